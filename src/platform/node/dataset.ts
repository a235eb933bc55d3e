import { existsSync } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { InputError } from '../../errors.ts';
import type { TestItem } from '../../evaluation/evaluate-dataset.ts';

const IMAGE = /\.(png|jpe?g)$/i;

export interface Dataset {
  root: string;
  layout: 'mvtec' | 'folders';
  train: string[];
  test: TestItem[];
  /** What was found, for the user: counts per defect type and which types lack masks. */
  report: string[];
}

async function images(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((n) => IMAGE.test(n)).sort().map((n) => path.join(dir, n));
}

async function isDir(p: string): Promise<boolean> {
  return (await stat(p).catch(() => undefined))?.isDirectory() ?? false;
}

/**
 * MVTec layout: train/good, test/<type>/ (good = normal), ground_truth/<type>/<stem>_mask.png. Defect folders
 * without ground truth are accepted as image-level only and reported. The generic form is a folder with
 * `normal/` (or `train/`) and `test/` holding `good/` and defect folders, without masks.
 */
export async function loadDataset(root: string): Promise<Dataset> {
  if (!(await isDir(root))) throw new InputError(root, 'dataset folder not found');
  const trainDir = (await isDir(path.join(root, 'train', 'good'))) ? path.join(root, 'train', 'good')
    : (await isDir(path.join(root, 'normal'))) ? path.join(root, 'normal') : undefined;
  const testDir = path.join(root, 'test');
  if (!trainDir || !(await isDir(testDir))) {
    throw new InputError(root, 'not a dataset folder: expected train/good/ (or normal/) and test/<good|defect type>/ (MVTec layout)');
  }
  const train = await images(trainDir);
  if (!train.length) throw new InputError(trainDir, 'holds no .png/.jpg images; at least one normal image is needed');
  const gtRoot = path.join(root, 'ground_truth');
  const test: TestItem[] = [];
  const report: string[] = [`${train.length} normal training images in ${trainDir}`];
  for (const type of (await readdir(testDir)).sort()) {
    const dir = path.join(testDir, type);
    if (!(await isDir(dir))) continue;
    const files = await images(dir);
    const normal = type === 'good';
    const gtDir = path.join(gtRoot, type);
    const hasGt = !normal && (await isDir(gtDir));
    let withMask = 0;
    for (const f of files) {
      let mask: string | null = null;
      if (hasGt) {
        const m = path.join(gtDir, `${path.basename(f).replace(/\.[^.]+$/, '')}_mask.png`);
        if (existsSync(m)) { mask = m; withMask++; }
      }
      test.push({ file: f, type, label: normal ? 0 : 1, mask });
    }
    if (hasGt) {
      const stems = new Set(files.map((f) => path.basename(f).replace(/\.[^.]+$/, '')));
      for (const m of await readdir(gtDir)) {
        const stem = m.replace(/_mask\.png$/i, '');
        if (!stems.has(stem)) throw new InputError(path.join(gtDir, m), `mask has no matching image in ${dir}`);
      }
    }
    report.push(`test/${type}: ${files.length} images${normal ? ' (normal)' : hasGt ? `, ${withMask} with masks` : ', no masks (image-level only)'}`);
  }
  if (!test.some((t) => t.label === 0) || !test.some((t) => t.label === 1)) report.push('warning: the test set lacks normal or defective images; AUROC is undefined');
  return { root, layout: existsSync(gtRoot) ? 'mvtec' : 'folders', train, test, report };
}
