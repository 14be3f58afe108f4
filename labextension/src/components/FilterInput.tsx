import React, { useLayoutEffect, useRef, useState } from 'react';

const FIELDS = [
  'status',
  'name',
  'experiment',
  'user',
  'notebook_id',
  'parent_id'
];
const SHOWN = 8;

/** The field being typed at the caret: the run of key characters just before it. */
export function wordAt(
  text: string,
  caret: number
): { start: number; word: string } {
  const before = text.slice(0, caret);
  const match = /[\w.-]*$/.exec(before);
  const word = match ? match[0] : '';
  return { start: caret - word.length, word };
}

export interface IFilterInputProps {
  value: string;
  onChange: (value: string) => void;
  onApply: (value: string) => void;
  /** Every param and metric name of the runs matching the experiment (the server's `keys`). */
  keys: { params: string[]; metrics: string[] };
}

/**
 * The runs filter box with key completion: typing a field offers the params, metrics and run
 * fields that start with it; ↑/↓ choose, Tab or Enter accept, Escape closes; Enter otherwise
 * applies the filter.
 */
export function FilterInput(props: IFilterInputProps): JSX.Element {
  const { value, onChange, onApply, keys } = props;
  const input = useRef<HTMLInputElement>(null);
  const [caret, setCaret] = useState(0);
  const [open, setOpen] = useState(false);
  const [active, setActive] = useState(0);
  // Where the caret goes once an accepted completion is in the input (after React commits it).
  const pendingCaret = useRef<number | null>(null);
  useLayoutEffect(() => {
    if (pendingCaret.current !== null && input.current?.value === value) {
      input.current.setSelectionRange(
        pendingCaret.current,
        pendingCaret.current
      );
      pendingCaret.current = null;
    }
  });
  const candidates = [
    ...keys.params.map(k => `params.${k}`),
    ...keys.metrics.map(k => `metrics.${k}`),
    ...FIELDS
  ];
  const { start, word } = wordAt(value, caret);
  const matches =
    open && word.length > 0
      ? candidates
          .filter(
            c => c.toLowerCase().startsWith(word.toLowerCase()) && c !== word
          )
          .slice(0, SHOWN)
      : [];

  const accept = (choice: string): void => {
    const next = value.slice(0, start) + choice + value.slice(caret);
    const position = start + choice.length;
    onChange(next);
    setOpen(false);
    setCaret(position);
    pendingCaret.current = position;
  };

  return (
    <div className="jp-mlm-filter-box">
      <input
        ref={input}
        className="jp-mlm-filter jp-mod-styled"
        placeholder="Filter, e.g. metrics.auc > 0.8 and params.model = 'xgb'"
        value={value}
        role="combobox"
        aria-expanded={matches.length > 0}
        aria-autocomplete="list"
        onChange={event => {
          onChange(event.target.value);
          setCaret(event.target.selectionStart ?? event.target.value.length);
          setOpen(true);
          setActive(0);
        }}
        onSelect={event => setCaret(event.currentTarget.selectionStart ?? 0)}
        onBlur={() => setOpen(false)}
        onFocus={() => setOpen(true)}
        onKeyDown={event => {
          if (matches.length > 0) {
            if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
              event.preventDefault();
              const step = event.key === 'ArrowDown' ? 1 : matches.length - 1;
              setActive((active + step) % matches.length);
              return;
            }
            if (event.key === 'Tab' || event.key === 'Enter') {
              event.preventDefault();
              accept(matches[Math.min(active, matches.length - 1)]);
              return;
            }
            if (event.key === 'Escape') {
              setOpen(false);
              return;
            }
          }
          if (event.key === 'Enter') {
            onApply(value);
          }
        }}
        aria-label="Filter runs"
        title={
          'Conditions FIELD OP VALUE joined by and / or, grouped with ( ), negated with not.\n' +
          'Fields: params.X, metrics.X, tags.X, status, name, experiment, user, notebook_id, parent_id (Tab completes them).\n' +
          "Operators: = != < <= > >=, in ('a', 'b'), like 'xgb%', is null, is not null.\n" +
          'Press Enter to apply.'
        }
      />
      {matches.length > 0 && (
        <ul className="jp-mlm-completions" role="listbox">
          {matches.map((match, index) => (
            <li
              key={match}
              role="option"
              aria-selected={index === active}
              className={index === active ? 'jp-mod-active' : ''}
              // mousedown, not click: the input's blur would close the list first
              onMouseDown={event => {
                event.preventDefault();
                accept(match);
              }}
            >
              {match}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
