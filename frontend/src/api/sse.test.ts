import { describe, expect, it } from 'vitest';
import { backoff, liveStream, SseParser, type SseEvent } from './sse';

describe('SSE parser', () => {
  it('parses events split across chunks, with ids and multi-line data', () => {
    const p = new SseParser();
    expect(p.feed('event: notification\nid: 4\nda')).toEqual([]);
    expect(p.feed('ta: {"a":1}\n\n: heartbeat\n\ndata: x\ndata: y\n\n')).toEqual([
      { event: 'notification', data: '{"a":1}', id: '4' },
      { event: 'message', data: 'x\ny', id: '4' },
    ]);
    expect(p.lastEventId).toBe('4');
  });
  it('handles CRLF, including a CR at the end of a chunk', () => {
    const p = new SseParser();
    expect(p.feed('event: done\r')).toEqual([]);
    expect(p.feed('\ndata: {}\r\n\r\n')).toEqual([{ event: 'done', data: '{}', id: undefined }]);
  });
  it('backs off from 0.5 s to at most 15 s', () => {
    expect([0, 1, 2, 10].map(backoff)).toEqual([500, 1000, 2000, 15000]);
  });
});

function streamResponse(chunks: string[], status = 200): Response {
  const enc = new TextEncoder();
  return new Response(
    new ReadableStream({
      start(c) {
        for (const ch of chunks) c.enqueue(enc.encode(ch));
        c.close();
      },
    }),
    { status, headers: { 'content-type': 'text/event-stream' } },
  );
}

describe('liveStream resumes with Last-Event-ID', () => {
  it('reconnects after a drop and sends the last id it saw', async () => {
    const seen: (string | null)[] = [];
    const events: SseEvent[] = [];
    let n = 0;
    let done!: () => void;
    const finished = new Promise<void>((r) => (done = r));
    const fetchImpl = (async (_url: string, init: RequestInit) => {
      const h = new Headers(init.headers);
      seen.push(h.get('Last-Event-ID'));
      n++;
      if (n === 1) return streamResponse(['event: notification\nid: 7\ndata: {"id":"a"}\n\n']);
      if (n === 2) return streamResponse(['event: notification\nid: 9\ndata: {"id":"b"}\n\n']);
      done();
      return new Promise<Response>(() => undefined);
    }) as unknown as typeof fetch;
    const s = liveStream('/notifications/stream', { onEvent: (e) => events.push(e), fetchImpl, sleep: async () => undefined });
    await finished;
    s.close();
    expect(seen).toEqual([null, '7', '9']);
    expect(events.map((e) => e.data)).toEqual(['{"id":"a"}', '{"id":"b"}']);
    expect(s.lastEventId()).toBe('9');
  });
});
