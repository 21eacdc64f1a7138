// What the assistant's actions say in the chat panel: a label per action and the
// tasks it touched (the reply names them, id and title), so that each is a link.

export interface ActionTask {
  id: string;
  title: string | null;
}

export interface ChatAction {
  tool: string;
  arguments?: Record<string, unknown>;
  result?: { ok?: boolean; summary?: string; data?: Record<string, unknown> } | null;
  tasks?: { id: string; title: string }[];
}

const LABELS: Record<string, string> = {
  add_task: 'Added',
  complete_task: 'Completed',
  delete_task: 'Delete requested',
  update_task: 'Updated',
  set_due_date: 'Rescheduled',
  schedule_reminder: 'Reminder set',
  create_recurring: 'Repeats',
  set_priority: 'Priority set',
  add_tags: 'Tagged',
  list_tasks: 'Listed',
  search_tasks: 'Searched',
  filter_tasks: 'Filtered',
  sort_tasks: 'Sorted',
  complete_tasks: 'Completed',
  delete_tasks: 'Delete requested',
  reopen_tasks: 'Reopened',
  stop_recurring: 'Stopped repeating',
  count_tasks: 'Counted',
  agenda: 'Agenda',
  completed_tasks: 'Finished',
  get_task: 'Details',
};

/** Tasks a deletion names may be gone soon: they are not links. */
const DELETES = new Set(['delete_task', 'delete_tasks']);

/** Most task links shown for one action. */
export const MAX_LINKS = 5;

/** The tasks an action touched, most relevant first. */
export function actionTasks(a: ChatAction): ActionTask[] {
  if (DELETES.has(a.tool)) return [];
  if (a.tasks?.length) return a.tasks.map((t) => ({ id: t.id, title: t.title }));
  // Replies stored before actions named their tasks.
  const d = a.result?.data;
  const task = (d && typeof d === 'object' && 'task' in d ? (d.task as Record<string, unknown>) : d) as Record<string, unknown> | undefined;
  if (task && typeof task.id === 'string') return [{ id: task.id, title: typeof task.title === 'string' ? task.title : null }];
  const id = a.arguments?.task_id;
  return typeof id === 'string' ? [{ id, title: null }] : [];
}

/** "Added: buy milk", "Completed 3 tasks", "Sorted". */
export function actionLabel(a: ChatAction): string {
  const base = LABELS[a.tool] ?? a.tool;
  if (a.result?.ok === false) return `${base} (failed)`;
  const tasks = actionTasks(a);
  const many = a.tool === 'complete_tasks' || a.tool === 'reopen_tasks';
  if (many && tasks.length !== 1) return `${base} ${tasks.length} tasks`;
  const [only] = tasks;
  return tasks.length === 1 && only?.title ? `${base}: ${only.title}` : base;
}

/** Whether a reply's completion can be taken back by saying "undo". */
export function undoable(actions: ChatAction[]): boolean {
  return actions.some((a) => (a.tool === 'complete_tasks' || a.tool === 'complete_task') && a.result?.ok !== false && (a.tasks?.length ?? 0) > 0);
}
