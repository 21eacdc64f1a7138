import { describe, expect, it } from 'vitest';
import { errorPosition, errorText, tokenize } from './filterSyntax';

const kinds = (s: string) => tokenize(s).filter((t) => t.kind !== 'space').map((t) => [s.slice(t.start, t.end), t.kind]);

describe('filter highlighting', () => {
  it('colours keywords, tags, priorities, operators and parentheses', () => {
    expect(kinds('(today | overdue) & @work & !p4')).toEqual([
      ['(', 'paren'], ['today', 'keyword'], ['|', 'op'], ['overdue', 'keyword'], [')', 'paren'],
      ['&', 'op'], ['@work', 'tag'], ['&', 'op'], ['!', 'op'], ['p4', 'priority'],
    ]);
  });
  it('reads values after a colon keyword up to the next operator', () => {
    expect(kinds('due before: next friday & search: milk')).toEqual([
      ['due before:', 'keyword'], ['next friday', 'value'], ['&', 'op'], ['search:', 'keyword'], ['milk', 'value'],
    ]);
  });
  it('knows two-word keywords and day ranges', () => {
    expect(kinds('no date | 7 days | next 14 days | no priority')).toEqual([
      ['no date', 'keyword'], ['|', 'op'], ['7 days', 'keyword'], ['|', 'op'], ['next 14 days', 'keyword'], ['|', 'op'], ['no priority', 'keyword'],
    ]);
  });
  it('leaves unknown words as text, and covers the whole input', () => {
    const s = 'today & foo p12';
    const toks = tokenize(s);
    expect(toks.map((t) => s.slice(t.start, t.end)).join('')).toBe(s);
    expect(kinds(s).slice(2)).toEqual([['foo', 'text'], ['p12', 'text']]);
  });
  it("places the 422's position and says what was expected", () => {
    expect(errorPosition({ position: 8 }, 'today & foo')).toBe(8);
    expect(errorPosition({ position: 99 }, 'today')).toBe(5);
    expect(errorPosition({}, 'today')).toBeNull();
    expect(errorText({ expected: 'a filter such as today', found: '"foo"' }, 'x')).toBe('Expected a filter such as today, found "foo"');
  });
});
