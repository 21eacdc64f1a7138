// An input whose text is highlighted in place: a mirror behind a transparent
// input renders the same text with <mark>s (the filter field, Quick Add).
import { useRef } from 'preact/hooks';

export function HighlightedInput(props: {
  id: string;
  value: string;
  onInput: (v: string) => void;
  segments: { start: number; end: number; cls: string }[];
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
    if (s.start < at) continue;
    if (s.start === text.length && s.end > s.start) {
      // A mark past the end (an error at the end of the text) shows as one space.
      parts.push(<mark class={s.cls}> </mark>);
      at = text.length;
      continue;
    }
    if (s.end > text.length || s.end <= s.start) continue;
    if (s.start > at) parts.push(<span>{text.slice(at, s.start)}</span>);
    parts.push(<mark class={s.cls}>{text.slice(s.start, s.end)}</mark>);
    at = s.end;
  }
  if (at < text.length) parts.push(<span>{text.slice(at)}</span>);
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

