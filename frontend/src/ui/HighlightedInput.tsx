// An input whose text is highlighted in place: a mirror behind a transparent
// input renders the same text with <mark>s (the filter field, Quick Add).
import { useRef } from 'preact/hooks';

export function HighlightedInput(props: {
  id: string;
  value: string;
  onInput: (v: string) => void;
  segments: { start: number; end: number; cls: string }[];
  errorAt?: number | null;
  describedBy?: string;
  invalid?: boolean;
  placeholder?: string;
  autoFocus?: boolean;
  onKeyDown?: (e: KeyboardEvent) => void;
  label?: string;
  inputRef?: { current: HTMLInputElement | null };
}) {
  const mirror = useRef<HTMLDivElement>(null);
  const parts: preact.JSX.Element[] = [];
  let at = 0;
  const text = props.value;
  const segs = [...props.segments].sort((a, b) => a.start - b.start);
  for (const s of segs) {
    if (s.start < at || s.end > text.length || s.end <= s.start) continue;
    if (s.start > at) parts.push(<span>{text.slice(at, s.start)}</span>);
    parts.push(<mark class={s.cls}>{text.slice(s.start, s.end)}</mark>);
    at = s.end;
  }
  if (at < text.length) parts.push(<span>{text.slice(at)}</span>);
  if (props.errorAt !== null && props.errorAt !== undefined) {
    // Re-render with the error caret: split at the position.
    const pos = props.errorAt;
    const before = text.slice(0, pos);
    const ch = text.slice(pos, pos + 1) || ' ';
    parts.length = 0;
    parts.push(<span>{before}</span>, <mark class="hl-error">{ch}</mark>, <span>{text.slice(pos + 1)}</span>);
  }
  return (
    <div class="hl-field">
      <div class="hl-mirror" ref={mirror} aria-hidden="true">
        {parts}
        {'\u200b'}
      </div>
      <input
        id={props.id}
        ref={props.inputRef}
        class="hl-input"
        value={text}
        autoFocus={props.autoFocus}
        placeholder={props.placeholder}
        aria-invalid={props.invalid ? 'true' : undefined}
        aria-describedby={props.describedBy}
        aria-label={props.label}
        spellcheck={false}
        autocomplete="off"
        onInput={(e) => props.onInput(e.currentTarget.value)}
        onScroll={(e) => {
          if (mirror.current) mirror.current.scrollLeft = e.currentTarget.scrollLeft;
        }}
        onKeyUp={(e) => {
          if (mirror.current) mirror.current.scrollLeft = e.currentTarget.scrollLeft;
        }}
        onKeyDown={props.onKeyDown}
      />
    </div>
  );
}

