import { describe, expect, it } from 'vitest';
import { actionLabel, actionTasks, undoable, type ChatAction } from './actions';

const ok = { ok: true, summary: 'done', data: {} };

describe('chat actions', () => {
  it('names every task a bulk action touched', () => {
    const a: ChatAction = { tool: 'complete_tasks', result: ok, tasks: [{ id: 'a', title: 'report' }, { id: 'b', title: 'slides' }] };
    expect(actionTasks(a).map((t) => t.id)).toEqual(['a', 'b']);
    expect(actionLabel(a)).toBe('Completed 2 tasks');
    expect(undoable([a])).toBe(true);
  });

  it('labels one task by its title, and a failure as failed', () => {
    expect(actionLabel({ tool: 'add_task', result: ok, tasks: [{ id: 'a', title: 'buy milk' }] })).toBe('Added: buy milk');
    expect(actionLabel({ tool: 'set_priority', result: { ok: false }, tasks: [] })).toBe('Priority set (failed)');
    expect(undoable([{ tool: 'complete_tasks', result: { ok: false }, tasks: [{ id: 'a', title: 'x' }] }])).toBe(false);
  });

  it('does not link tasks waiting to be deleted', () => {
    expect(actionTasks({ tool: 'delete_tasks', result: ok, tasks: [{ id: 'a', title: 'x' }] })).toEqual([]);
    expect(actionLabel({ tool: 'delete_tasks', result: ok, tasks: [{ id: 'a', title: 'x' }] })).toBe('Delete requested');
  });

  it('reads replies stored before actions named their tasks', () => {
    expect(actionTasks({ tool: 'update_task', arguments: { task_id: 't1' }, result: ok })).toEqual([{ id: 't1', title: null }]);
    expect(actionTasks({ tool: 'add_task', result: { ok: true, data: { id: 't2', title: 'milk' } } })).toEqual([{ id: 't2', title: 'milk' }]);
  });
});
