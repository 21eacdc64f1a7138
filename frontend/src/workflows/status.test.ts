import { describe, expect, it } from 'vitest';
import type { Workflow } from '../api/client';
import { statusText } from './status';

const workflow = (custom_status: unknown): Workflow => ({ id: 'w', kind: 'reminder', status: 'running', custom_status } as unknown as Workflow);

describe('a workflow status in words', () => {
  it('writes instants in the user’s timezone', () => {
    expect(statusText(workflow('reminding at 2026-12-01T14:25:46Z'), 'Europe/Berlin')).toBe('reminding at 1 Dec 2026 15:25');
  });
  it('reads a state or status out of an object, and is empty without one', () => {
    expect(statusText(workflow({ state: 'paused' }), 'UTC')).toBe('paused');
    expect(statusText(workflow(null), 'UTC')).toBe('');
  });
});
