import { InputError } from '../../src/errors.ts';
import type { LabelStudioControl } from '../../src/export/labelstudio-tasks.ts';
import { parseXml, type XmlElement } from '../../src/export/xml.ts';

/**
 * Where our mask results go in a Label Studio project, read from its labelling config (sent to /setup as `schema`
 * and to /predict as `label_config`): the mask control (from_name) and its type — BrushLabels, BitmaskLabels, or a
 * Brush beside a Labels control (labelsName) —, the Image it labels (to_name), the task data key of that image
 * (`$image` → "image"), and the label. Nothing is hard-coded, so any project with an Image and one of these works.
 */
export interface MaskTarget {
  control: LabelStudioControl; fromName: string; labelsName?: string; toName: string; dataKey: string; label: string; labels: string[];
}

function* walk(el: XmlElement): Generator<XmlElement> {
  yield el;
  for (const c of el.children) yield* walk(c);
}

const EXAMPLE = '<BrushLabels name="defect" toName="image"><Label value="Defect"/></BrushLabels> (or BitmaskLabels, or a <Brush> with a <Labels>)';

/**
 * The first BrushLabels or BitmaskLabels whose toName is an Image, else a Brush whose Image also has a Labels
 * control. `label` picks one of the labels (default the first); a label the config does not have is an error, since
 * Label Studio would drop the region.
 */
export function maskTarget(config: string, where: string, label?: string): MaskTarget {
  if (typeof config !== 'string' || !config.trim()) throw new InputError(where, 'is empty: expected the project\'s labelling config XML');
  const root = parseXml(config, where);
  const all = [...walk(root)];
  const images = new Map(all.filter((e) => e.name === 'Image' && e.attrs.name).map((e) => [e.attrs.name, e]));
  const onImage = (name: string) => all.filter((e) => e.name === name && images.has(e.attrs.toName));
  const labelled = all.find((e) => (e.name === 'BrushLabels' || e.name === 'BitmaskLabels') && images.has(e.attrs.toName));
  const brush = onImage('Brush').find((b) => onImage('Labels').some((l) => l.attrs.toName === b.attrs.toName));
  const control = labelled ?? brush;
  if (!control) {
    const masks = all.filter((e) => ['BrushLabels', 'BitmaskLabels', 'Brush'].includes(e.name));
    throw new InputError(where, masks.length
      ? `no ${masks.map((m) => `<${m.name}>`).join(', ')} points at an <Image> with labels (toName ${masks.map((b) => JSON.stringify(b.attrs.toName)).join(', ')})`
      : `has no mask control: add ${EXAMPLE}`);
  }
  if (!control.attrs.name) throw new InputError(where, `<${control.name}> has no name`);
  const labelsTag = labelled ?? onImage('Labels').find((l) => l.attrs.toName === control.attrs.toName)!;
  const value = images.get(control.attrs.toName)!.attrs.value ?? '';
  if (!/^\$[A-Za-z_][\w]*$/.test(value)) throw new InputError(where, `<Image name="${control.attrs.toName}"> value must be a task field like "$image", got "${value}"`);
  const labels = [...walk(labelsTag)].filter((c) => c.name === 'Label' && c.attrs.value !== undefined).map((c) => c.attrs.value);
  if (!labels.length) throw new InputError(where, `<${labelsTag.name} name="${labelsTag.attrs.name}"> has no <Label value="…"/>`);
  if (label !== undefined && !labels.includes(label)) throw new InputError(where, `label "${label}" is not one of the ${labelsTag.name} labels (${labels.join(', ')})`);
  if (!labelled && !labelsTag.attrs.name) throw new InputError(where, '<Labels> has no name');
  return {
    control: labelled ? (labelled.name === 'BitmaskLabels' ? 'bitmasklabels' : 'brushlabels') : 'brush+labels',
    fromName: control.attrs.name, ...(labelled ? {} : { labelsName: labelsTag.attrs.name }),
    toName: control.attrs.toName, dataKey: value.slice(1), label: label ?? labels[0], labels,
  };
}
