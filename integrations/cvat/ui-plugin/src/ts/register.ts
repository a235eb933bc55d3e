// The component builder CVAT's plugins entry point calls (window.cvatUI.registerComponent), as cvat-ui/plugins/sam's:
// it registers our cvat-core plugin, whose model starts on first use.
import { ModelSession } from '../../../../../components/state/model-session.ts';
import type { BackendName } from '../../../../../src/runtime/backend.ts';
import { createAnomalyPlugin, type CvatCore } from './plugin.ts';

export interface ComponentBuilderArgs { core: CvatCore & { plugins: { register(plugin: object): Promise<void> } } }
export type ComponentBuilder = (args: ComponentBuilderArgs) => { name: string; destructor: () => void };

/** `backends`: tfjs backends to try, in order (default webgpu → webgl → wasm → cpu, skipping a software GPU). */
export function anomalyBuilder(backends?: BackendName[]): ComponentBuilder {
  return ({ core }) => {
    let started: Promise<ModelSession> | undefined;
    const plugin = createAnomalyPlugin({ core, session: () => (started = ModelSession.start(backends)) });
    void core.plugins.register(plugin);
    return { name: plugin.name, destructor: () => { void started?.then((s) => s.dispose()); } };
  };
}

export type CvatUI = { registerComponent(b: ComponentBuilder): void };
