// CVAT client plugin entry: CVAT's webpack builds each plugin of CLIENT_PLUGINS from <folder>/src/ts/index.tsx. It
// registers once CVAT's plugins entry point has defined window.cvatUI and fired 'plugins.ready'.
import { anomalyBuilder, type CvatUI } from './register.ts';

window.addEventListener('plugins.ready', () => {
  (window as unknown as { cvatUI?: CvatUI }).cvatUI?.registerComponent(anomalyBuilder());
}, { once: true });
