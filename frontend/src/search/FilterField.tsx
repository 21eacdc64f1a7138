// The filter field: the filter language highlighted as typed, and the server's
// 422 shown inline at its position.
import { HighlightedInput } from '../ui/HighlightedInput';
import { tokenize } from './filterSyntax';

export interface FieldError {
  message: string;
  position: number | null;
}

export function FilterField(props: {
  value: string;
  onInput: (v: string) => void;
  onSubmit: () => void;
  error: FieldError | null;
}) {
  const pos = props.error?.position ?? null;
  const segs = tokenize(props.value)
    .filter((t) => t.kind !== 'space' && t.kind !== 'text' && (pos === null || t.end <= pos))
    .map((t) => ({ start: t.start, end: t.end, cls: `hl-${t.kind}` }));
  // The server's error position, marked over the character it points at.
  if (pos !== null) segs.push({ start: pos, end: pos + 1, cls: 'hl-error' });
  return (
    <form
      class="filter-form"
      onSubmit={(e) => {
        e.preventDefault();
        props.onSubmit();
      }}
    >
      <label for="filter-input" class="field-label">Filter</label>
      <div class="row">
        <HighlightedInput
          id="filter-input"
          value={props.value}
          onInput={props.onInput}
          segments={segs}
          invalid={!!props.error}
          describedBy={props.error ? 'filter-error' : 'filter-help'}
          placeholder="(today | overdue) & @work & !p4"
        />
        <button class="btn btn-primary" type="submit">Apply</button>
      </div>
      {props.error ? (
        <p id="filter-error" class="error" role="alert">
          {props.error.position !== null && <>At character {props.error.position + 1}: </>}
          {props.error.message}
        </p>
      ) : (
        <p id="filter-help" class="hint">
          today, tomorrow, overdue, 7 days, no date, p1–p4, @tag, recurring, done, due before: friday, search: words; combine with ! &amp; | ( )
        </p>
      )}
    </form>
  );
}
