// Server-Sent Events over fetch: one implementation for GET streams that resume
// with Last-Event-ID (notifications) and POST streams (chat), which EventSource
// cannot send. The cookie authenticates both.
import { BASE, emitUnauthorized, toApiError } from './client';

export interface SseEvent {
  event: string;
  data: string;
  id?: string;
}

/**
 * An incremental parser of the text/event-stream format: feed it chunks as they
 * arrive; it returns the events completed so far. Comments (`:`) and heartbeats
 * with no data are dropped; `id` persists as the last event id like EventSource's.
 */
export class SseParser {
  private buffer = '';
  private data: string[] = [];
  private event = '';
  private id: string | undefined;
  lastEventId: string | undefined;

  feed(chunk: string): SseEvent[] {
    this.buffer += chunk;
    const out: SseEvent[] = [];
    for (;;) {
      const m = /\r\n|\r|\n/.exec(this.buffer);
      if (!m) break;
      // A lone \r at the end of a chunk may be the start of \r\n: wait for more.
      if (m[0] === '\r' && m.index === this.buffer.length - 1) break;
      const line = this.buffer.slice(0, m.index);
      this.buffer = this.buffer.slice(m.index + m[0].length);
      if (line === '') {
        if (this.id !== undefined) this.lastEventId = this.id;
        if (this.data.length > 0) {
          out.push({ event: this.event || 'message', data: this.data.join('\n'), id: this.lastEventId });
        }
        this.data = [];
        this.event = '';
        continue;
      }
      if (line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? '' : line.slice(colon + 1);
      if (value.startsWith(' ')) value = value.slice(1);
      if (field === 'data') this.data.push(value);
      else if (field === 'event') this.event = value;
      else if (field === 'id' && !value.includes('\0')) this.id = value;
    }
    return out;
  }
}

/** Reads a streamed response body to the end, calling `onEvent` for each event. */
export async function readSse(
  res: Response,
  onEvent: (e: SseEvent) => void,
  parser = new SseParser(),
): Promise<void> {
  if (!res.body) return;
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    for (const e of parser.feed(decoder.decode(value, { stream: true }))) onEvent(e);
  }
}

/** Delay before reconnect attempt `n` (0-based): 0.5 s doubling to 15 s. */
export function backoff(n: number): number {
  return Math.min(15_000, 500 * 2 ** n);
}

export interface LiveStream {
  close(): void;
}

export interface LiveOptions {
  onEvent: (e: SseEvent) => void;
  onState?: (connected: boolean) => void;
  /** Injected in tests. */
  fetchImpl?: typeof fetch;
  sleep?: (ms: number) => Promise<void>;
}

/**
 * A GET stream that stays open: after a drop it reconnects with backoff and sends
 * `Last-Event-ID` so that the server replays exactly the events missed. A 401 ends
 * it (the session is over).
 */
export function liveStream(path: string, opts: LiveOptions): LiveStream & { lastEventId(): string | undefined } {
  const doFetch = opts.fetchImpl ?? fetch.bind(globalThis);
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const ctrl = new AbortController();
  let closed = false;
  let lastId: string | undefined;
  (async () => {
    let attempt = 0;
    while (!closed) {
      try {
        const headers: Record<string, string> = { accept: 'text/event-stream' };
        if (lastId !== undefined) headers['Last-Event-ID'] = lastId;
        const res = await doFetch(BASE + path, { headers, credentials: 'same-origin', signal: ctrl.signal });
        if (res.status === 401) {
          emitUnauthorized();
          return;
        }
        if (!res.ok) throw toApiError(res.status, undefined);
        attempt = 0;
        opts.onState?.(true);
        const parser = new SseParser();
        await readSse(res, (e) => {
          if (e.id !== undefined) lastId = e.id;
          opts.onEvent(e);
        }, parser);
      } catch {
        if (closed) return;
      }
      opts.onState?.(false);
      if (closed) return;
      await sleep(backoff(attempt++));
    }
  })();
  return {
    close() {
      closed = true;
      ctrl.abort();
    },
    lastEventId: () => lastId,
  };
}

/** A POST whose answer is an event stream (the chat). */
export async function postStream(path: string, body: unknown, onEvent: (e: SseEvent) => void): Promise<void> {
  const res = await fetch(BASE + path, {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
    body: JSON.stringify(body),
  });
  if (res.status === 401) emitUnauthorized();
  if (!res.ok) {
    const text = await res.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    throw toApiError(res.status, json);
  }
  await readSse(res, onEvent);
}
