import { describe, expect, it } from 'vitest';
import { addView, barWidths, COLUMNS_KEY, formatDuration, loadColumns, loadViews, removeView, scaleHistogram, toggleColumn, upsertListed, VIEWS_KEY, waitingText, type Instance } from './ops';

const mem = (o: Record<string, string>) => ({ getItem: (k: string) => o[k] ?? null });

describe('saved views', () => {
  it('adds, replaces by name, removes, and refuses empty ones', () => {
    let v = addView([], ' Stuck reminders ', ' kind:reminder & stuck ');
    expect(v).toEqual([{ name: 'Stuck reminders', query: 'kind:reminder & stuck' }]);
    v = addView(v, 'Failed', 'status:failed');
    v = addView(v, 'Stuck reminders', 'stuck');
    expect(v.map((x) => x.query)).toEqual(['stuck', 'status:failed']);
    expect(addView(v, '  ', 'x')).toBe(v);
    expect(addView(v, 'x', '')).toBe(v);
    expect(removeView(v, 'Failed')).toEqual([{ name: 'Stuck reminders', query: 'stuck' }]);
  });
  it('reads storage defensively', () => {
    expect(loadViews(mem({}))).toEqual([]);
    expect(loadViews(mem({ [VIEWS_KEY]: 'not json' }))).toEqual([]);
    expect(loadViews(mem({ [VIEWS_KEY]: '[{"name":1}]' }))).toEqual([]);
    expect(loadViews(mem({ [VIEWS_KEY]: '[{"name":"a","query":"b"}]' }))).toEqual([{ name: 'a', query: 'b' }]);
  });
});

describe('columns', () => {
  it('defaults, keeps the canonical order, drops unknown names', () => {
    expect(loadColumns(mem({}))).toContain('kind');
    expect(loadColumns(mem({ [COLUMNS_KEY]: '["updated","bogus","kind"]' }))).toEqual(['kind', 'updated']);
    expect(toggleColumn(['kind', 'updated'], 'status', true)).toEqual(['kind', 'status', 'updated']);
    expect(toggleColumn(['kind', 'status'], 'kind', false)).toEqual(['status']);
  });
});

describe('histogram', () => {
  it('scales to the tallest bucket, with a visible minimum for non-empty ones', () => {
    const h = scaleHistogram([{ start: 'a', count: 0 }, { start: 'b', count: 1 }, { start: 'c', count: 100 }, { start: 'd', count: 50 }, 'junk', null]);
    expect(h.max).toBe(100);
    expect(h.total).toBe(151);
    expect(h.bars.map((b) => b.pct)).toEqual([0, 2, 100, 50, 0, 0]);
  });
  it('is flat when everything is empty', () => {
    expect(scaleHistogram([{ start: 'a', count: 0 }, { start: 'b', count: 0 }]).bars.every((b) => b.pct === 0)).toBe(true);
  });
});

describe('timeline bars', () => {
  it('scales durations to the longest', () => {
    expect(barWidths([null, 1993, 2, undefined, 0])).toEqual([null, 100, 1, null, 1]);
    expect(barWidths([500, 1000])).toEqual([50, 100]);
    expect(barWidths([0, 0])).toEqual([1, 1]);
  });
  it('formats durations', () => {
    expect(formatDuration(2)).toBe('2 ms');
    expect(formatDuration(1993)).toBe('1.99 s');
    expect(formatDuration(65_000)).toBe('1 min 5 s');
    expect(formatDuration(3_720_000)).toBe('1 h 2 min');
  });
});

describe('live rows', () => {
  const a: Instance = { id: 'a', kind: 'reminder', status: 'running', created_at: 't0', updated_at: 't1' };
  it('replaces a listed instance that changed, ignores others', () => {
    const r = upsertListed([a], { ...a, status: 'completed', updated_at: 't2' });
    expect(r.changed).toBe(true);
    expect(r.items[0]!.status).toBe('completed');
    expect(upsertListed([a], { ...a }).changed).toBe(false);
    expect(upsertListed([a], { ...a, id: 'b' }).changed).toBe(false);
  });
  it('says what it waits for', () => {
    expect(waitingText(null, String)).toBe('');
    expect(waitingText({ reason: 'timer', until: 'X' }, (s) => `<${s}>`)).toBe('timer until <X>');
    expect(waitingText({ reason: 'event', events: ['approval'] }, String)).toBe('event (approval)');
    expect(waitingText({ reason: 'child' }, String)).toBe('child');
  });
});
