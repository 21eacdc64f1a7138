import { describe, expect, it } from 'vitest';
import { addMonths, keyMove, monthGrid, startOfWeek, weekDays } from './calendar';

describe('calendar grid', () => {
  it('starts weeks on Monday', () => {
    expect(startOfWeek('2026-12-01')).toBe('2026-11-30');
    expect(startOfWeek('2026-12-06')).toBe('2026-11-30');
    expect(weekDays('2026-12-03')).toEqual(['2026-11-30', '2026-12-01', '2026-12-02', '2026-12-03', '2026-12-04', '2026-12-05', '2026-12-06']);
  });
  it('covers the month in whole weeks', () => {
    const g = monthGrid('2026-12-15');
    expect(g.length).toBe(5);
    expect(g[0]![0]).toBe('2026-11-30');
    expect(g[4]![6]).toBe('2027-01-03');
    expect(monthGrid('2027-02-10').length).toBe(4);
  });
  it('adds months, clamping the day', () => {
    expect(addMonths('2026-01-31', 1)).toBe('2026-02-28');
    expect(addMonths('2026-12-15', 1)).toBe('2027-01-15');
    expect(addMonths('2026-01-15', -1)).toBe('2025-12-15');
  });
  it('maps arrow keys to moves of a day or a week', () => {
    expect([keyMove('ArrowLeft'), keyMove('ArrowRight'), keyMove('ArrowUp'), keyMove('ArrowDown'), keyMove('a')]).toEqual([-1, 1, -7, 7, null]);
  });
});
