import { describe, expect, it } from 'vitest';
import { localiseInstants, addDays, dayKey, dayLabel, daysBetween, minutesUntilTomorrowMorning, relativeDue, relativeSpan, zonedToInstant } from './dates';

const tz = 'Europe/Berlin';
const now = new Date('2026-12-01T10:00:00Z'); // Tuesday 11:00 in Berlin

describe('relativeDue', () => {
  it('says Tomorrow with the local time', () => {
    expect(relativeDue('2026-12-02T16:00:00Z', false, now, tz)).toMatchObject({ text: 'Tomorrow 17:00', overdue: false });
  });
  it('says Today and is overdue once the time has passed', () => {
    expect(relativeDue('2026-12-01T08:00:00Z', false, now, tz)).toMatchObject({ text: 'Today 09:00', overdue: true });
  });
  it('all-day tasks are overdue only from the next day', () => {
    expect(relativeDue('2026-12-01T00:00:00+01:00', true, now, tz)).toMatchObject({ text: 'Today', overdue: false });
    expect(relativeDue('2026-11-30T00:00:00+01:00', true, now, tz)).toMatchObject({ text: 'Yesterday', overdue: true });
  });
  it('names the weekday within the week and the date beyond', () => {
    expect(relativeDue('2026-12-04T17:00:00Z', false, now, tz).text).toBe('Friday 18:00');
    expect(relativeDue('2026-12-24T17:00:00Z', false, now, tz).text).toBe('Dec 24 18:00');
    expect(relativeDue('2027-01-05T17:00:00Z', false, now, tz).text).toBe('Jan 5 2027 18:00');
  });
  it('reads the day in the user timezone, not UTC', () => {
    // 23:30 UTC on Dec 1 is already Dec 2 in Berlin, still Dec 1 in New York.
    expect(relativeDue('2026-12-01T23:30:00Z', false, now, tz).text).toBe('Tomorrow 00:30');
    expect(relativeDue('2026-12-01T23:30:00Z', false, now, 'America/New_York').text).toBe('Today 18:30');
  });
});

describe('day keys', () => {
  it('adds days across months and years', () => {
    expect(addDays('2026-12-31', 1)).toBe('2027-01-01');
    expect(addDays('2024-03-01', -1)).toBe('2024-02-29');
    expect(daysBetween('2026-12-01', '2027-01-01')).toBe(31);
  });
  it('labels days relative to today', () => {
    expect(dayLabel('2026-12-01', '2026-12-01')).toBe('Today');
    expect(dayLabel('2026-12-02', '2026-12-01')).toBe('Tomorrow');
    expect(dayLabel('2026-11-30', '2026-12-01')).toBe('Yesterday');
  });
  it('converts zoned wall time to an instant, across DST', () => {
    expect(zonedToInstant('2026-12-01', 9, 0, tz).toISOString()).toBe('2026-12-01T08:00:00.000Z');
    expect(zonedToInstant('2026-07-01', 9, 0, tz).toISOString()).toBe('2026-07-01T07:00:00.000Z');
    expect(zonedToInstant('2026-03-29', 12, 0, tz).toISOString()).toBe('2026-03-29T10:00:00.000Z');
    expect(dayKey(zonedToInstant('2026-03-29', 0, 0, tz), tz)).toBe('2026-03-29');
  });
  it('counts the minutes to 09:00 tomorrow for the snooze', () => {
    expect(minutesUntilTomorrowMorning(now, tz)).toBe(22 * 60);
  });
  it('writes instants in notification text in the user timezone', () => {
    expect(localiseInstants('take pills is due 2026-12-02T08:00:00Z.', tz)).toBe('take pills is due 2 Dec 2026 09:00.');
    expect(localiseInstants('no date here', tz)).toBe('no date here');
  });
  it('says time left', () => {
    expect(relativeSpan(4 * 60_000 + 5_000)).toBe('in 4 min 5 s');
    expect(relativeSpan(-2 * 3600_000)).toBe('2 h ago');
  });
});
