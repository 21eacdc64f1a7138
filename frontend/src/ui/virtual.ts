// Virtualisation maths for long lists of rows of known heights (task rows and day
// headers): only the rows in view, plus some overscan, are in the DOM.

/** Prefix sums: offsets[i] is the top of row i; offsets[n] the total height. */
export function offsets(heights: readonly number[]): number[] {
  const out = new Array<number>(heights.length + 1);
  out[0] = 0;
  for (let i = 0; i < heights.length; i++) out[i + 1] = out[i]! + heights[i]!;
  return out;
}

/** The row at vertical position y (binary search over the offsets). */
export function rowAt(offs: readonly number[], y: number): number {
  const n = offs.length - 1;
  if (n <= 0) return 0;
  let lo = 0;
  let hi = n - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (offs[mid]! <= y) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** Rows [start, end) to render for a viewport at scrollTop of the given height. */
export function visibleRange(
  offs: readonly number[],
  scrollTop: number,
  viewport: number,
  overscan = 6,
): { start: number; end: number } {
  const n = offs.length - 1;
  if (n <= 0) return { start: 0, end: 0 };
  const first = rowAt(offs, Math.max(0, scrollTop));
  const last = rowAt(offs, Math.max(0, scrollTop + viewport - 1));
  return { start: Math.max(0, first - overscan), end: Math.min(n, last + 1 + overscan) };
}

/** The scrollTop that brings row i fully into view (unchanged when it already is). */
export function scrollToReveal(offs: readonly number[], i: number, scrollTop: number, viewport: number): number {
  const top = offs[i] ?? 0;
  const bottom = offs[i + 1] ?? top;
  if (top < scrollTop) return top;
  if (bottom > scrollTop + viewport) return bottom - viewport;
  return scrollTop;
}
