import { InputError } from '../../src/errors.ts';
import { parseXml, type XmlElement } from '../../src/export/xml.ts';

/**
 * Where our brush results go in a Label Studio project, read from its labelling config (sent to /setup as `schema`
 * and to /predict as `label_config`): the BrushLabels control (from_name), the Image it labels (to_name), the task
 * data key of that image (`$image` → "image"), and the label. Nothing is hard-coded, so any project with an Image
 * and a BrushLabels works.
 */
export interface BrushTarget { fromName: string; toName: string; dataKey: string; label: string; labels: string[] }

function* walk(el: XmlElement): Generator<XmlElement> {
  yield el;
  for (const c of el.children) yield* walk(c);
}

/**
 * The first BrushLabels whose toName is an Image. `label` picks one of its labels (default the first); a label the
 * config does not have is an error, since Label Studio would drop the region.
 */
export function brushTarget(config: string, where: string, label?: string): BrushTarget {
  if (typeof config !== 'string' || !config.trim()) throw new InputError(where, 'is empty: expected the project\'s labelling config XML');
  const root = parseXml(config, where);
  const all = [...walk(root)];
  const images = new Map(all.filter((e) => e.name === 'Image' && e.attrs.name).map((e) => [e.attrs.name, e]));
  const brushes = all.filter((e) => e.name === 'BrushLabels');
  const brush = brushes.find((b) => images.has(b.attrs.toName));
  if (!brush) {
    throw new InputError(where, brushes.length
      ? `no BrushLabels points at an <Image> (toName ${brushes.map((b) => JSON.stringify(b.attrs.toName)).join(', ')})`
      : 'has no <BrushLabels> control: add <BrushLabels name="defect" toName="image"><Label value="Defect"/></BrushLabels>');
  }
  const value = images.get(brush.attrs.toName)!.attrs.value ?? '';
  if (!/^\$[A-Za-z_][\w]*$/.test(value)) throw new InputError(where, `<Image name="${brush.attrs.toName}"> value must be a task field like "$image", got "${value}"`);
  const labels = brush.children.filter((c) => c.name === 'Label' && c.attrs.value !== undefined).map((c) => c.attrs.value);
  if (!labels.length) throw new InputError(where, `<BrushLabels name="${brush.attrs.name}"> has no <Label value="…"/>`);
  if (label !== undefined && !labels.includes(label)) throw new InputError(where, `label "${label}" is not one of the BrushLabels labels (${labels.join(', ')})`);
  if (!brush.attrs.name) throw new InputError(where, '<BrushLabels> has no name');
  return { fromName: brush.attrs.name, toName: brush.attrs.toName, dataKey: value.slice(1), label: label ?? labels[0], labels };
}
