import { describe, expect, it } from 'vitest';
import type { Task } from '../api/client';
import { fitsStatus, priorityForKey, viewQuery } from './data';
import { groupByDay, groupToday } from './grouping';

const task = (id: string, due: string | null, status: 'open' | 'done' = 'open'): Task =>
  ({ id, title: id, description: '', status, priority: 'none', tags: [], due_at: due, all_day: false, reminders: [], created_at: '', updated_at: '', version: 1 }) as Task;

describe('views', () => {
  const now = new Date('2026-12-01T10:00:00Z');
  it('Today is today and overdue; Upcoming is the next 14 days from local midnight', () => {
    expect(viewQuery('today', now, 'Europe/Berlin').filter).toBe('today | overdue');
    const u = viewQuery('upcoming', now, 'Europe/Berlin');
    expect(u.due_after).toBe('2026-11-30T23:00:00.000Z');
    expect(u.due_before).toBe('2026-12-14T23:00:00.000Z');
    expect(viewQuery('completed', now, 'UTC').status).toBe('done');
  });
  it('groups Upcoming by day, every day with a header', () => {
    const rows = groupByDay([task('a', '2026-12-01T12:00:00Z'), task('b', '2026-12-03T09:00:00Z'), task('c', '2026-12-03T23:30:00Z')], '2026-12-01', 14, 'Europe/Berlin', '2026-12-01');
    const headers = rows.filter((r) => r.kind === 'header');
    expect(headers.length).toBe(14);
    expect(rows.slice(0, 2).map((r) => (r.kind === 'header' ? r.label : r.task.id))).toEqual(['Today · Tuesday 1/12', 'a']);
    // c is 00:30 on Dec 4 in Berlin.
    const dec4 = rows.findIndex((r) => r.kind === 'header' && r.key === '2026-12-04');
    expect(rows[dec4 + 1]).toMatchObject({ kind: 'task', task: { id: 'c' } });
  });
  it('puts overdue tasks under their own header in Today', () => {
    const rows = groupToday([task('old', '2026-11-28T09:00:00Z'), task('now', '2026-12-01T15:00:00Z')], 'Europe/Berlin', '2026-12-01');
    expect(rows.map((r) => (r.kind === 'header' ? r.label : r.task.id))).toEqual(['Overdue', 'old', 'Today · Tuesday 1/12', 'now']);
    expect(groupToday([task('now', '2026-12-01T15:00:00Z')], 'UTC', '2026-12-01')[0]).toMatchObject({ kind: 'header', key: '2026-12-01' });
  });
  it('maps 1-4 to priorities and knows which status a list holds', () => {
    expect(['1', '2', '3', '4', '5'].map(priorityForKey)).toEqual(['urgent', 'high', 'medium', 'low', null]);
    expect(fitsStatus(task('a', null, 'done'), { status: 'open' })).toBe(false);
    expect(fitsStatus(task('a', null, 'done'), { filter: 'done & @x' })).toBe(true);
    expect(fitsStatus(task('a', null), {})).toBe(true);
  });
});
