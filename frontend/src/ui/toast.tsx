// Toasts: role=status, each with optional actions; they stay while focused or hovered.
import { useEffect, useRef } from 'preact/hooks';
import { store, useStore } from './store';

export interface ToastAction {
  label: string;
  run: () => void;
}
export interface Toast {
  id: number;
  message: string;
  actions: ToastAction[];
  timeoutMs: number | null;
  kind?: 'info' | 'error' | 'reminder';
}

export const toasts = store<Toast[]>([]);
let nextId = 1;

export function showToast(message: string, opts: Partial<Omit<Toast, 'id' | 'message'>> = {}): number {
  const id = nextId++;
  toasts.set((t) => [...t.slice(-4), { id, message, actions: opts.actions ?? [], timeoutMs: opts.timeoutMs === undefined ? 5000 : opts.timeoutMs, kind: opts.kind ?? 'info' }]);
  return id;
}
export function dismissToast(id: number): void {
  toasts.set((t) => t.filter((x) => x.id !== id));
}
export function showError(e: unknown): void {
  const message = e instanceof Error ? e.message : String(e);
  showToast(message, { kind: 'error', timeoutMs: 8000 });
}

function ToastItem({ t }: { t: Toast }) {
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (t.timeoutMs === null) return;
    let left = t.timeoutMs;
    let last = Date.now();
    let paused = false;
    const el = ref.current;
    const pause = () => {
      paused = true;
    };
    const resume = () => {
      paused = false;
      last = Date.now();
    };
    el?.addEventListener('mouseenter', pause);
    el?.addEventListener('focusin', pause);
    el?.addEventListener('mouseleave', resume);
    el?.addEventListener('focusout', resume);
    const iv = setInterval(() => {
      if (paused) return;
      const n = Date.now();
      left -= n - last;
      last = n;
      if (left <= 0) dismissToast(t.id);
    }, 200);
    return () => {
      clearInterval(iv);
      el?.removeEventListener('mouseenter', pause);
      el?.removeEventListener('focusin', pause);
      el?.removeEventListener('mouseleave', resume);
      el?.removeEventListener('focusout', resume);
    };
  }, [t.id]);
  return (
    <div ref={ref} class={`toast toast-${t.kind}`} role="status">
      <span class="toast-msg">{t.message}</span>
      {t.actions.map((a) => (
        <button
          type="button"
          class="btn btn-small"
          onClick={() => {
            dismissToast(t.id);
            a.run();
          }}
        >
          {a.label}
        </button>
      ))}
      <button type="button" class="btn btn-icon btn-small" aria-label="Dismiss" onClick={() => dismissToast(t.id)}>
        ×
      </button>
    </div>
  );
}

export function Toasts() {
  const list = useStore(toasts);
  return (
    <div class="toasts">
      {list.map((t) => (
        <ToastItem key={t.id} t={t} />
      ))}
    </div>
  );
}
