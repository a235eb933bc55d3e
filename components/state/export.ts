import { type AnnotatedImage, type AnnotatedRegion, type ProposalRegion, resizeMask } from '../../src/web.ts';
import { acceptedRegions, type ImageEntry } from './session.ts';

/**
 * The session as the exporters take it, masks at each image's full (original) resolution, with each image's verdict
 * (normal / defective / unreviewed) and each region's review state: accepted, edited and drawn regions; for images
 * not reviewed yet, the pending proposals too (pre-annotations, marked pending), never rejected ones. The workspace sizes every image first; one whose size is still unknown is left out.
 */
export function sessionAnnotations(
  order: readonly string[], entries: ReadonlyMap<string, ImageEntry>, pendingOf: (e: ImageEntry) => ProposalRegion[],
  options: { reviewedOnly?: boolean } = {},
): AnnotatedImage[] {
  const out: AnnotatedImage[] = [];
  for (const id of order) {
    const e = entries.get(id);
    if (!e?.size) continue;
    if (options.reviewedOnly && e.status === 'unreviewed') continue;
    const { width, height } = e.size;
    const regions: AnnotatedRegion[] = acceptedRegions(e).map((r) => ({
      mask: resizeMask(r.mask, width, height), ...(r.score !== undefined ? { score: r.score } : {}),
      review: r.origin === 'drawn' ? 'drawn' : r.edited ? 'edited' : 'accepted',
    }));
    if (e.status === 'unreviewed') {
      for (const p of pendingOf(e)) regions.push({ mask: resizeMask(p.mask, width, height), score: p.score, maxScore: p.maxScore, meanScore: p.meanScore, review: 'pending' });
    }
    out.push({ fileName: e.name, width, height, status: e.status, regions });
  }
  return out;
}
