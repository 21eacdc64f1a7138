// Highlighting for the filter language (README: today, overdue, p1..p4, @tag,
// due before: <date>, search: words, ! & | and parentheses). It only colours; the
// server's parser decides, and its 422 position is shown over the same text.

export type TokenKind = 'keyword' | 'tag' | 'priority' | 'op' | 'paren' | 'value' | 'text' | 'space';
export interface Token {
  start: number;
  end: number;
  kind: TokenKind;
}

const KEYWORDS = [
  'no priority',
  'no date',
  'no tags',
  'today',
  'tomorrow',
  'overdue',
  'recurring',
  'done',
  'open',
];
const VALUE_KEYWORDS = ['due before:', 'due after:', 'created before:', 'created after:', 'search:'];

export function tokenize(text: string): Token[] {
  const out: Token[] = [];
  const lower = text.toLowerCase();
  let i = 0;
  const push = (start: number, end: number, kind: TokenKind) => {
    const last = out[out.length - 1];
    if (last && last.kind === kind && last.end === start && (kind === 'text' || kind === 'space')) last.end = end;
    else out.push({ start, end, kind });
  };
  const boundary = (j: number) => j >= text.length || !/[\w*]/.test(text[j]!);
  outer: while (i < text.length) {
    const c = text[i]!;
    if (/\s/.test(c)) {
      push(i, i + 1, 'space');
      i++;
      continue;
    }
    if (c === '&' || c === '|' || c === '!') {
      push(i, i + 1, 'op');
      i++;
      continue;
    }
    if (c === '(' || c === ')') {
      push(i, i + 1, 'paren');
      i++;
      continue;
    }
    if (c === '@') {
      let j = i + 1;
      while (j < text.length && /[^\s&|!()]/.test(text[j]!)) j++;
      push(i, j, 'tag');
      i = j;
      continue;
    }
    for (const kw of VALUE_KEYWORDS) {
      if (lower.startsWith(kw, i)) {
        push(i, i + kw.length, 'keyword');
        let j = i + kw.length;
        while (j < text.length && /\s/.test(text[j]!)) j++;
        const vs = j;
        while (j < text.length && !/[&|)]/.test(text[j]!)) j++;
        let ve = j;
        while (ve > vs && /\s/.test(text[ve - 1]!)) ve--;
        if (vs > i + kw.length) push(i + kw.length, vs, 'space');
        if (ve > vs) push(vs, ve, 'value');
        i = ve;
        continue outer;
      }
    }
    const m = /^(?:next\s+)?\d+\s+days?\b/.exec(lower.slice(i));
    if (m) {
      push(i, i + m[0].length, 'keyword');
      i += m[0].length;
      continue;
    }
    const p = /^p[1-4]/.exec(lower.slice(i));
    if (p && boundary(i + 2)) {
      push(i, i + 2, 'priority');
      i += 2;
      continue;
    }
    for (const kw of KEYWORDS) {
      if (lower.startsWith(kw, i) && boundary(i + kw.length)) {
        push(i, i + kw.length, 'keyword');
        i += kw.length;
        continue outer;
      }
    }
    let j = i + 1;
    while (j < text.length && /[^\s&|!()@]/.test(text[j]!)) j++;
    push(i, j, 'text');
    i = j;
  }
  return out;
}

/** The 422's position (a character offset) from its details, clamped to the text. */
export function errorPosition(details: Record<string, unknown>, text: string): number | null {
  const p = details.position;
  if (typeof p !== 'number' || !Number.isFinite(p)) return null;
  return Math.max(0, Math.min(text.length, Math.floor(p)));
}

/** A short message for the 422: "expected X, found Y". */
export function errorText(details: Record<string, unknown>, fallback: string): string {
  const expected = details.expected;
  const found = details.found;
  const exp = Array.isArray(expected) ? expected.join(' or ') : typeof expected === 'string' ? expected : null;
  if (exp) return `Expected ${exp}${typeof found === 'string' && found ? `, found ${found}` : ''}`;
  return fallback;
}
