export { AnomalyViewer } from './anomaly-viewer.ts';
