import { existsSync } from 'node:fs';
import { afterAll, beforeAll } from 'vitest';
import type { Browser } from 'playwright-core';
import { createServer, type ViteDevServer } from 'vite';

/** Debian's chromium (never a downloaded browser); tests skip with this message where it is absent. */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const HAS_CHROMIUM = existsSync(CHROMIUM);
export const NO_CHROMIUM = `skipped: no Chromium at ${CHROMIUM} (apt-get install chromium, or set CHROMIUM_PATH)`;

/** Flags from docs/runtime.md §3: no background network (the box is offline), WebGPU on SwiftShader. */
export const CHROMIUM_ARGS = [
  '--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run',
  '--disable-quic', '--disable-default-apps', '--disable-extensions', '--disable-dev-shm-usage',
  '--enable-unsafe-webgpu', '--use-angle=swiftshader', '--use-webgpu-adapter=swiftshader',
];

export async function launchChromium(extraArgs: string[] = []): Promise<Browser> {
  const { chromium } = await import('playwright-core');
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: [...CHROMIUM_ARGS, ...extraArgs] });
}

/** The project's Vite dev server on a free loopback port. */
export async function startVite(): Promise<{ server: ViteDevServer; url: string }> {
  const server = await createServer({ configFile: 'vite.config.ts', server: { host: '127.0.0.1', port: 0 }, logLevel: 'error' });
  await server.listen();
  const addr = server.httpServer!.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return { server, url: `http://127.0.0.1:${port}` };
}

export type DevServer = Awaited<ReturnType<typeof startVite>>;

/**
 * Registers beforeAll/afterAll that start the Vite dev server and Chromium for a describe block; the returned
 * object's fields are set once beforeAll has run.
 */
export function useBrowserAndVite(setup?: () => void): { browser: Browser; vite: DevServer } {
  const ctx = {} as { browser: Browser; vite: DevServer };
  beforeAll(async () => {
    setup?.();
    ctx.vite = await startVite();
    ctx.browser = await launchChromium();
  });
  afterAll(async () => {
    await ctx.browser?.close();
    await ctx.vite?.server.close();
  });
  return ctx;
}
