import { describe, expect, it, vi } from 'vitest';
import { createKeyHandler, isEditable } from './shortcuts';

function setup(enabled = true) {
  let t = 0;
  const calls: string[] = [];
  const b = { q: () => calls.push('q'), j: () => calls.push('j'), '?': () => calls.push('?'), 'g i': () => calls.push('gi'), 'g u': () => calls.push('gu') };
  const h = createKeyHandler(() => b, { enabled: () => enabled, now: () => t });
  return { h, calls, tick: (ms: number) => (t += ms) };
}
const input = { tagName: 'INPUT', type: 'text' };

describe('shortcuts', () => {
  it('runs single keys and prevents the default', () => {
    const { h, calls } = setup();
    const preventDefault = vi.fn();
    expect(h({ key: 'q', preventDefault })).toBe(true);
    expect(preventDefault).toHaveBeenCalled();
    expect(h({ key: '?' })).toBe(true);
    expect(calls).toEqual(['q', '?']);
  });
  it('ignores keys typed in fields and with modifiers', () => {
    const { h, calls } = setup();
    expect(h({ key: 'q', target: input })).toBe(false);
    expect(h({ key: 'q', target: { tagName: 'TEXTAREA' } })).toBe(false);
    expect(h({ key: 'q', ctrlKey: true })).toBe(false);
    expect(h({ key: 'q', metaKey: true })).toBe(false);
    expect(h({ key: 'q', target: { tagName: 'INPUT', type: 'checkbox' } })).toBe(true);
    expect(calls).toEqual(['q']);
  });
  it('does nothing when turned off', () => {
    const { h, calls } = setup(false);
    expect(h({ key: 'q' })).toBe(false);
    expect(calls).toEqual([]);
  });
  it('g then i within the window goes to the inbox; late second keys act alone', () => {
    const { h, calls, tick } = setup();
    h({ key: 'g' });
    tick(500);
    h({ key: 'i' });
    expect(calls).toEqual(['gi']);
    h({ key: 'g' });
    tick(2000);
    h({ key: 'j' });
    expect(calls).toEqual(['gi', 'j']);
    h({ key: 'g' });
    h({ key: 'u' });
    expect(calls).toEqual(['gi', 'j', 'gu']);
  });
  it('knows editable targets', () => {
    expect(isEditable({ tagName: 'DIV', isContentEditable: true })).toBe(true);
    expect(isEditable({ tagName: 'SELECT' })).toBe(true);
    expect(isEditable({ tagName: 'BUTTON' })).toBe(false);
    expect(isEditable(null)).toBe(false);
  });
});
