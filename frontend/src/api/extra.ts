// Types of the endpoints being added to the backend alongside this UI (saved
// filters, tags, /parse, series control). They mirror the agreed shapes until the
// served OpenAPI document carries them; then they come from schema.d.ts.
import type { Task, Workflow } from './client';

export interface TagCount {
  name: string;
  count: number;
}
export interface SavedFilter {
  id: string;
  name: string;
  query: string;
  color: string | null;
  position: number;
  created_at: string;
  updated_at: string;
}
export type SpanKind = 'date' | 'tag' | 'priority' | 'recurrence' | 'reminder';
export interface ParseSpan {
  start: number;
  end: number;
  kind: SpanKind;
  text: string;
  value: unknown;
}
export interface ParseResult {
  title: string;
  spans: ParseSpan[];
  task: Record<string, unknown>;
  preview: Task | null;
  error: { field: string; message: string } | null;
}
export type SeriesView = Workflow;
