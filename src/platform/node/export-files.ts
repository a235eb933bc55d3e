import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { InputError } from '../../errors.ts';
import { ensureOutputDir, writeFileAtomic } from './files.ts';
import type { AnnotatedImage, ExportSource, ImportedImage } from '../../export/annotations.ts';
import { buildCocoDocument, parseCocoDocument, type CocoOptions } from '../../export/coco-document.ts';
import { buildCvatXml, parseCvatXml } from '../../export/cvat-xml.ts';
import { buildLabelStudioTasks, parseLabelStudioTasks, type LabelStudioOptions, type LabelStudioReadOptions } from '../../export/labelstudio-tasks.ts';
import { buildMaskPngs, decodeInstancePng, decodeMaskPng, maskPngNames } from '../../export/png-masks.ts';

/**
 * Node writers and readers of the export formats. Every document is built in memory first (so bad input fails before
 * anything is written) and written with writeFileAtomic (temporary file + rename): no partial files.
 */

export const EXPORT_FILES = { coco: 'coco.json', labelstudio: 'labelstudio.json', cvat: 'cvat.xml' } as const;

export async function writeCocoFile(file: string, images: readonly AnnotatedImage[], source: ExportSource, options?: CocoOptions): Promise<void> {
  await writeDocument(file, `${JSON.stringify(buildCocoDocument(images, source, options))}\n`);
}

export async function readCocoFile(file: string): Promise<AnnotatedImage[]> {
  return parseCocoDocument(await readText(file), file);
}

export async function writeLabelStudioFile(file: string, images: readonly AnnotatedImage[], source: ExportSource, options?: LabelStudioOptions): Promise<void> {
  await writeDocument(file, `${JSON.stringify(buildLabelStudioTasks(images, source, options))}\n`);
}

export async function readLabelStudioFile(file: string, options?: LabelStudioReadOptions): Promise<ImportedImage[]> {
  return parseLabelStudioTasks(await readText(file), file, options);
}

export async function writeCvatFile(file: string, images: readonly AnnotatedImage[], source: ExportSource): Promise<void> {
  await writeDocument(file, buildCvatXml(images, source));
}

export async function readCvatFile(file: string): Promise<AnnotatedImage[]> {
  return parseCvatXml(await readText(file), file);
}

/** Writes masks/<stem>.png and masks/<stem>.instances.png under outDir; returns the paths written. */
export async function writeMaskPngs(outDir: string, images: readonly AnnotatedImage[]): Promise<string[]> {
  const files = buildMaskPngs(images);
  await ensureOutputDir(path.join(outDir, 'masks'));
  const written: string[] = [];
  for (const [name, bytes] of files) {
    const p = path.join(outDir, name);
    await writeFileAtomic(p, bytes);
    written.push(p);
  }
  return written;
}

/**
 * Reads an image's PNG pair back: its regions from the instance PNG, checked against the binary mask (their union
 * must be it) and against the expected size.
 */
export async function readMaskPngs(outDir: string, image: { fileName: string; width: number; height: number }): Promise<AnnotatedImage> {
  const names = maskPngNames(image.fileName);
  const maskFile = path.join(outDir, names.mask);
  const instFile = path.join(outDir, names.instances);
  const mask = decodeMaskPng(await readBytes(maskFile), maskFile);
  const inst = decodeInstancePng(await readBytes(instFile), instFile);
  for (const [f, s] of [[maskFile, mask], [instFile, inst]] as const) {
    if (s.width !== image.width || s.height !== image.height) throw new InputError(f, `is ${s.width}×${s.height}, but image "${image.fileName}" is ${image.width}×${image.height}`);
  }
  const union = new Uint8Array(mask.data.length);
  for (const r of inst.regions) for (let i = 0; i < union.length; i++) union[i] |= r.mask.data[i];
  const i = union.findIndex((v, k) => v !== mask.data[k]);
  if (i >= 0) throw new InputError(instFile, `does not match ${names.mask} at pixel (${i % image.width}, ${Math.floor(i / image.width)})`);
  return { ...image, regions: inst.regions };
}

/** The output folder is made if missing (a clear error if it is a file), then the file written atomically. */
async function writeDocument(file: string, text: string): Promise<void> {
  await ensureOutputDir(path.dirname(file));
  await writeFileAtomic(file, text);
}

async function readBytes(file: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(file));
  } catch (e) {
    throw new InputError(file, `cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}

async function readText(file: string): Promise<string> {
  return new TextDecoder().decode(await readBytes(file));
}
