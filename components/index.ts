export { ExportMenu } from './export-menu.ts';
export { ImageCanvas, type CanvasRegion } from './image-canvas.ts';
export { ModelPanel } from './model-panel.ts';
export { ReviewQueue, type ImageAnalysis, type QueueImage, type QueueProposal } from './review-queue.ts';
export { ShortcutHelp } from './shortcut-help.ts';
export { SensitivityControl } from './sensitivity-control.ts';
export { Workspace, COLD_START_NORMALS, type SampleImage } from './workspace.ts';
export type { InpEvents, EditTool, ExportFormat, ModelAction } from './events.ts';
