// Names for the generated types of the newer endpoints (tags, saved filters,
// /parse, series control), so features import readable names.
import type { Schemas, Workflow } from './client';

export type TagCount = Schemas['TagCount'];
export type SavedFilter = Schemas['FilterView'];
export type SpanKind = Schemas['SpanKind'];
export type ParseSpan = Schemas['Span'];
/** POST /parse's answer; `error` is `{field, message}` when the task would be refused. */
export type ParseResult = Omit<Schemas['ParseResult'], 'error'> & { error?: { field: string; message: string } | null };
export type SeriesView = Workflow;
