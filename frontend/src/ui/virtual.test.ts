import { describe, expect, it } from 'vitest';
import { offsets, rowAt, scrollToReveal, visibleRange } from './virtual';

describe('virtualisation', () => {
  const offs = offsets(new Array(5000).fill(60));
  it('sums heights', () => {
    expect(offs[0]).toBe(0);
    expect(offs[5000]).toBe(300_000);
    expect(offsets([44, 60, 60])).toEqual([0, 44, 104, 164]);
  });
  it('finds the row at a position', () => {
    expect(rowAt(offs, 0)).toBe(0);
    expect(rowAt(offs, 59)).toBe(0);
    expect(rowAt(offs, 60)).toBe(1);
    expect(rowAt(offs, 299_999)).toBe(4999);
    expect(rowAt(offsets([44, 60, 60]), 50)).toBe(1);
  });
  it('renders only the rows in view plus overscan, of 5,000', () => {
    const r = visibleRange(offs, 60 * 1000, 600, 5);
    expect(r).toEqual({ start: 995, end: 1015 });
    expect(r.end - r.start).toBeLessThan(30);
    expect(visibleRange(offs, 0, 600, 5)).toEqual({ start: 0, end: 15 });
    expect(visibleRange(offs, 300_000, 600, 5).end).toBe(5000);
    expect(visibleRange(offsets([]), 0, 600)).toEqual({ start: 0, end: 0 });
  });
  it('scrolls just enough to reveal a row', () => {
    expect(scrollToReveal(offs, 20, 0, 600)).toBe(21 * 60 - 600);
    expect(scrollToReveal(offs, 3, 600, 600)).toBe(180);
    expect(scrollToReveal(offs, 12, 600, 600)).toBe(600);
  });
});
