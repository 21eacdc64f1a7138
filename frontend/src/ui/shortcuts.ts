// Single-key shortcuts (Todoist's): q, /, j, k, e, t, 1-4, x, g then i/t/u, ?.
// They never fire while typing in a field, with a modifier held, or when the user
// turned them off in Settings (WCAG 2.1.4).

export interface KeyLike {
  key: string;
  ctrlKey?: boolean;
  metaKey?: boolean;
  altKey?: boolean;
  isComposing?: boolean;
  target?: unknown;
  preventDefault?: () => void;
}

export type Bindings = Record<string, () => void>;

export function isEditable(target: unknown): boolean {
  const el = target as { tagName?: string; isContentEditable?: boolean; type?: string } | null;
  if (!el || typeof el.tagName !== 'string') return false;
  if (el.isContentEditable) return true;
  const tag = el.tagName.toLowerCase();
  if (tag === 'textarea' || tag === 'select') return true;
  if (tag === 'input') {
    const type = (el.type ?? 'text').toLowerCase();
    return !['checkbox', 'radio', 'button', 'submit', 'reset', 'range', 'color'].includes(type);
  }
  return false;
}

/**
 * A keydown handler over `bindings` (keys such as "q", "?", "g i"); returns whether
 * it handled the key. A two-key sequence waits `sequenceMs` for its second key.
 */
export function createKeyHandler(
  bindings: () => Bindings,
  opts: { enabled: () => boolean; now?: () => number; sequenceMs?: number },
): (e: KeyLike) => boolean {
  const now = opts.now ?? (() => Date.now());
  const window = opts.sequenceMs ?? 1500;
  let prefix: { key: string; at: number } | null = null;
  return (e) => {
    if (!opts.enabled()) return false;
    if (e.ctrlKey || e.metaKey || e.altKey || e.isComposing) return false;
    if (isEditable(e.target)) return false;
    const b = bindings();
    const key = e.key;
    if (prefix && now() - prefix.at <= window) {
      const seq = `${prefix.key} ${key}`;
      prefix = null;
      const fn = b[seq];
      if (fn) {
        e.preventDefault?.();
        fn();
        return true;
      }
    }
    prefix = null;
    if (Object.keys(b).some((k) => k.startsWith(`${key} `))) {
      prefix = { key, at: now() };
      e.preventDefault?.();
      return true;
    }
    const fn = b[key];
    if (!fn) return false;
    e.preventDefault?.();
    fn();
    return true;
  };
}

export const SHORTCUT_HELP: [string, string][] = [
  ['q', 'Quick add a task'],
  ['/', 'Search'],
  ['j / k', 'Next / previous task'],
  ['e', 'Complete the current task'],
  ['t', 'Set the due date of the current task'],
  ['1 – 4', 'Priority p1 (urgent) to p4 (low)'],
  ['x', 'Select the current task'],
  ['Enter', 'Open the current task'],
  ['g then i / t / u', 'Go to Inbox / Today / Upcoming'],
  ['?', 'This list'],
];
