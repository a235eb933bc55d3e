import { InputError } from '../errors.ts';
import { checkAnnotatedImages, DEFAULT_LABEL, REGION_REVIEWS, regionLabel, type AnnotatedImage, type AnnotatedRegion, type ExportSource, type RegionReview } from './annotations.ts';
import { decodeCvatMask, encodeCvatMask } from './cvat-rle.ts';
import { escapeXml, parseXml, type XmlElement } from './xml.ts';

/**
 * CVAT for images 1.1 XML with `<mask>` shapes, as CVAT's exporter writes them (cvat/apps/dataset_manager/formats/
 * cvat.py): `rle` = the run lengths of cvat-rle.ts without the box, ", "-separated; `left`, `top` and the box's
 * `width`, `height`. The score goes into an `<attribute name="score">`; CVAT's importer keeps it when the task's label
 * has a `score` attribute and drops it otherwise (it filters attributes by the label spec), so import never fails
 * on it. The meta lists the labels with that attribute, for creating a matching task.
 */
export function buildCvatXml(images: readonly AnnotatedImage[], source: ExportSource): string {
  checkAnnotatedImages(images);
  const labels = [...new Set([source.label ?? DEFAULT_LABEL, ...images.flatMap((img) => img.regions.map((r) => regionLabel(r, source)))])];
  const verdicts = (['normal', 'defective'] as const).filter((v) => images.some((img) => img.status === v));
  const out = [
    '<?xml version="1.0" encoding="utf-8"?>',
    '<annotations>',
    '  <version>1.1</version>',
    '  <meta>',
    '    <task>',
    `      <size>${images.length}</size>`,
    '      <mode>annotation</mode>',
    '      <labels>',
    ...labels.flatMap((l) => [
      '        <label>',
      `          <name>${escapeXml(l)}</name>`,
      '          <type>mask</type>',
      '          <attributes>',
      '            <attribute><name>score</name><mutable>False</mutable><input_type>text</input_type><default_value></default_value><values></values></attribute>',
      `            <attribute><name>review</name><mutable>True</mutable><input_type>select</input_type><default_value>pending</default_value><values>${REGION_REVIEWS.join('\n')}</values></attribute>`,
      '          </attributes>',
      '        </label>',
    ]),
    ...verdicts.flatMap((v) => ['        <label>', `          <name>${v}</name>`, '          <type>tag</type>', '          <attributes></attributes>', '        </label>']),
    '      </labels>',
    '    </task>',
    `    <source>${escapeXml(`${source.model}; threshold ${source.calibration.pixelThreshold} (${source.calibration.method})`)}</source>`,
    '  </meta>',
  ];
  images.forEach((img, i) => {
    out.push(`  <image id="${i}" name="${escapeXml(img.fileName)}" width="${img.width}" height="${img.height}">`);
    // The annotator's verdict on the image as CVAT's image-level tag (its labels are declared in <meta>).
    if (img.status === 'normal' || img.status === 'defective') out.push(`    <tag label="${img.status}" source="manual"></tag>`);
    for (const r of img.regions) {
      const points = encodeCvatMask(r.mask)!; // checkAnnotatedImages: never empty
      const [l, t, right, b] = points.slice(-4);
      // CVAT's own distinction: shapes a person made or confirmed are "manual", the model's are "auto".
      const made = r.review !== undefined && r.review !== 'pending' ? 'manual' : 'auto';
      const attrs = `label="${escapeXml(regionLabel(r, source))}" source="${made}" occluded="0" rle="${points.slice(0, -4).join(', ')}" left="${l}" top="${t}" width="${right - l + 1}" height="${b - t + 1}" z_order="0"`;
      const children = [
        ...(r.score !== undefined ? [`      <attribute name="score">${r.score}</attribute>`] : []),
        ...(r.review !== undefined ? [`      <attribute name="review">${r.review}</attribute>`] : []),
      ];
      if (!children.length) out.push(`    <mask ${attrs}></mask>`);
      else out.push(`    <mask ${attrs}>`, ...children, '    </mask>');
    }
    out.push('  </image>');
  });
  out.push('</annotations>', '');
  return out.join('\n');
}

/**
 * Reads the `<mask>` shapes of a CVAT for images 1.1 XML file back to full-size masks (other shape types are not
 * masks and are left out). `where` names the file; errors give the line and the image.
 */
export function parseCvatXml(text: string, where: string): AnnotatedImage[] {
  const root = parseXml(text, where);
  if (root.name !== 'annotations') throw new InputError(`${where}:${root.line}`, `root element is <${root.name}>, expected <annotations> (CVAT for images 1.1)`);
  const seen = new Set<string>();
  return root.children.filter((el) => el.name === 'image').map((el) => {
    const at = `${where}:${el.line}`;
    const fileName = el.attrs.name;
    if (!fileName) throw new InputError(at, '<image> needs a name attribute');
    if (seen.has(fileName)) throw new InputError(at, `image "${fileName}" appears twice`);
    seen.add(fileName);
    const width = intAttr(el, 'width', at, 1);
    const height = intAttr(el, 'height', at, 1);
    const regions = el.children.filter((c) => c.name === 'mask').map((m): AnnotatedRegion => {
      const mAt = `${where}:${m.line}`;
      const rle = (m.attrs.rle ?? '').split(',').map((s) => s.trim());
      if (rle.some((s) => !/^\d+$/.test(s))) throw new InputError(mAt, `<mask rle="…"> must be comma-separated run lengths, got ${JSON.stringify((m.attrs.rle ?? '').slice(0, 40))}`);
      const left = intAttr(m, 'left', mAt, 0);
      const top = intAttr(m, 'top', mAt, 0);
      const points = [...rle.map(Number), left, top, left + intAttr(m, 'width', mAt, 1) - 1, top + intAttr(m, 'height', mAt, 1) - 1];
      const region: AnnotatedRegion = { mask: decodeCvatMask(points, width, height, `${mAt} <mask> in image "${fileName}"`) };
      if (m.attrs.label) region.label = m.attrs.label;
      const score = m.children.find((a) => a.name === 'attribute' && a.attrs.name === 'score');
      if (score) {
        const v = Number(score.text.trim());
        if (score.text.trim() === '' || !Number.isFinite(v)) throw new InputError(`${where}:${score.line}`, `score attribute must be a number, got ${JSON.stringify(score.text)}`);
        region.score = v;
      }
      const review = m.children.find((a) => a.name === 'attribute' && a.attrs.name === 'review');
      if (review) {
        const v = review.text.trim() as RegionReview;
        if (!REGION_REVIEWS.includes(v)) throw new InputError(`${where}:${review.line}`, `review attribute must be one of ${REGION_REVIEWS.join(', ')}, got ${JSON.stringify(review.text)}`);
        region.review = v;
      }
      return region;
    });
    const tag = el.children.find((c) => c.name === 'tag' && (c.attrs.label === 'normal' || c.attrs.label === 'defective'));
    return { fileName, width, height, regions, ...(tag ? { status: tag.attrs.label as 'normal' | 'defective' } : {}) };
  });
}

function intAttr(el: XmlElement, name: string, where: string, min: number): number {
  const s = el.attrs[name];
  const v = Number(s);
  if (s === undefined || !/^\s*\d+\s*$/.test(s) || v < min) {
    throw new InputError(where, `<${el.name}> attribute ${name} must be an integer ≥ ${min}, got ${s === undefined ? 'none' : JSON.stringify(s)}`);
  }
  return v;
}
