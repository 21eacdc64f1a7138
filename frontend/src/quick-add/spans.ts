// What Quick Add understood, laid over the text: spans from POST /parse are
// UTF-16 offsets (JS string indices); un-parsing a chip wraps its text in double
// quotes, which the parser never reads.
import type { ParseSpan, SpanKind } from '../api/extra';

export interface Segment {
  text: string;
  kind: SpanKind | null;
  span: number | null;
}

/** The text cut into plain and understood parts, in order; bad or overlapping spans are skipped. */
export function segments(text: string, spans: readonly ParseSpan[]): Segment[] {
  const sorted = spans
    .map((s, i) => ({ s, i }))
    .filter(({ s }) => s.start >= 0 && s.end <= text.length && s.end > s.start)
    .sort((a, b) => a.s.start - b.s.start);
  const out: Segment[] = [];
  let at = 0;
  for (const { s, i } of sorted) {
    if (s.start < at) continue;
    if (s.start > at) out.push({ text: text.slice(at, s.start), kind: null, span: null });
    out.push({ text: text.slice(s.start, s.end), kind: s.kind, span: i });
    at = s.end;
  }
  if (at < text.length) out.push({ text: text.slice(at), kind: null, span: null });
  return out;
}

/** The text with `span` turned back into title text: quoted, so it is not parsed again. */
export function unparse(text: string, span: Pick<ParseSpan, 'start' | 'end'>): string {
  const part = text.slice(span.start, span.end).replace(/"/g, '');
  return `${text.slice(0, span.start)}"${part}"${text.slice(span.end)}`;
}

/** Whether the spans still fit the text (the text may have changed since the parse). */
export function spansFit(text: string, spans: readonly ParseSpan[], parsedText: string): boolean {
  return text === parsedText && spans.every((s) => s.end <= text.length);
}

const KIND_LABEL: Record<SpanKind, string> = {
  date: 'Due',
  tag: 'Tag',
  priority: 'Priority',
  recurrence: 'Repeats',
  reminder: 'Reminder',
};
export function kindLabel(kind: SpanKind): string {
  return KIND_LABEL[kind] ?? kind;
}
