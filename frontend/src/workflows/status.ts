import type { Workflow } from '../api/client';
import { localiseInstants } from '../ui/dates';

/** A workflow's custom status in words, its instants in the user's timezone. */
export function statusText(w: Workflow, tz: string): string {
  const cs = w.custom_status;
  if (cs == null) return '';
  if (typeof cs === 'string') return localiseInstants(cs, tz);
  const o = cs as Record<string, unknown>;
  const text = typeof o.state === 'string' ? o.state : typeof o.status === 'string' ? o.status : JSON.stringify(cs);
  return localiseInstants(text, tz);
}
