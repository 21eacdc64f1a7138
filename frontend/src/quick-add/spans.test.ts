import { describe, expect, it } from 'vitest';
import type { ParseSpan } from '../api/extra';
import { segments, unparse } from './spans';

const span = (start: number, end: number, kind: ParseSpan['kind'], text: string): ParseSpan => ({ start, end, kind, text, value: {} });

describe('quick add spans', () => {
  const text = 'buy milk tomorrow 5pm #shopping p1';
  const spans = [span(22, 31, 'tag', '#shopping'), span(9, 21, 'date', 'tomorrow 5pm'), span(32, 34, 'priority', 'p1')];
  it('cuts the text into plain and understood parts in order', () => {
    const s = segments(text, spans);
    expect(s.map((x) => [x.text, x.kind])).toEqual([
      ['buy milk ', null],
      ['tomorrow 5pm', 'date'],
      [' ', null],
      ['#shopping', 'tag'],
      [' ', null],
      ['p1', 'priority'],
    ]);
    expect(s.map((x) => x.text).join('')).toBe(text);
  });
  it('skips spans that overlap or fall outside the text', () => {
    const s = segments('abc def', [span(0, 3, 'tag', 'abc'), span(2, 5, 'date', 'c d'), span(4, 99, 'date', 'x')]);
    expect(s.map((x) => x.text)).toEqual(['abc', ' def']);
  });
  it('uses UTF-16 offsets, as JS strings do', () => {
    const t = '🥛 milk #shop';
    const s = segments(t, [span(8, 13, 'tag', '#shop')]);
    expect(s[1]!.text).toBe('#shop');
  });
  it('un-parsing a chip quotes its text so it is never parsed again', () => {
    expect(unparse(text, spans[1]!)).toBe('buy milk "tomorrow 5pm" #shopping p1');
    expect(unparse('read the 5th wave', span(9, 12, 'date', '5th'))).toBe('read the "5th" wave');
  });
});
