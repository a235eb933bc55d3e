import type { Progress } from '../types.ts';

/** A progress event as one line of a progress bar: what a UI or a terminal shows. */
export interface ProgressLine {
  label: string;
  done: number;
  /** 0 = unknown. */
  total: number;
  /** 'bytes': done and total are bytes (shown in MB). */
  unit?: 'bytes';
  etaSeconds?: number;
  detail?: string;
}

const STAGE_LABEL: Record<Progress['stage'], string> = { download: 'download', encode: 'encode', fit: 'fit', validate: 'validate', train: 'train', refine: 'refine' };

export function progressLine(p: Progress): ProgressLine {
  switch (p.stage) {
    case 'download': return { label: STAGE_LABEL.download, done: p.loaded, total: p.total, unit: 'bytes', detail: p.file };
    case 'train': return {
      label: p.job === 'finetune' ? 'fine-tune' : STAGE_LABEL.train, done: p.step, total: p.steps, etaSeconds: p.etaSeconds, detail: `loss ${p.loss.toFixed(4)}`,
    };
    default: return {
      label: STAGE_LABEL[p.stage], done: p.done, total: p.total,
      ...(p.etaSeconds !== undefined ? { etaSeconds: p.etaSeconds } : {}), ...(p.detail ? { detail: p.detail } : {}),
    };
  }
}

/**
 * Counts units of a stage and reports each with an ETA from the mean time per unit so far: `tick(detail)` after
 * each unit. `now` is injectable for tests.
 */
export function progressCounter(stage: 'encode' | 'fit' | 'validate' | 'refine', total: number, report: (p: Progress) => void, now: () => number = () => performance.now()): (detail?: string) => void {
  const started = now();
  let done = 0;
  return (detail) => {
    done++;
    const elapsedSeconds = (now() - started) / 1000;
    report({ stage, done, total, elapsedSeconds, etaSeconds: (elapsedSeconds / done) * (total - done), ...(detail ? { detail } : {}) });
  };
}
