import { describe, expect, it } from 'vitest';
import type { Task } from '../api/client';
import { nextOccurrenceLabel } from './nextOccurrence';

const recurring = (due: string, allDay: boolean, next: string[]): Task =>
  ({
    id: 't', title: 'water plants', description: '', status: 'open', priority: 'none', tags: [], due_at: due,
    all_day: allDay, reminders: [], created_at: '', updated_at: '', version: 1,
    recurrence: { rule: 'FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR', text: 'every weekday at 8:00', next },
  }) as unknown as Task;

describe('the next occurrence in a row', () => {
  const now = new Date('2026-12-01T10:00:00Z');
  it('is the one after this occurrence, never this one', () => {
    const t = recurring('2026-12-14T08:00:00Z', false, ['2026-12-14T08:00:00Z', '2026-12-15T08:00:00Z']);
    expect(nextOccurrenceLabel(t, now, 'UTC')).toMatch(/15.*08:00|08:00.*15/);
  });
  it('skips an all-day task’s own day even when the rule has a time of day', () => {
    const t = recurring('2026-12-14T00:00:00Z', true, ['2026-12-14T08:00:00Z', '2026-12-15T08:00:00Z']);
    const label = nextOccurrenceLabel(t, now, 'UTC');
    expect(label).not.toBeNull();
    expect(label).toMatch(/15/);
    expect(label).not.toMatch(/14/);
  });
});
