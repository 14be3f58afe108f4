import React, { useEffect, useLayoutEffect, useRef, useState } from 'react';

import { formatNumber, plural } from '../format';
import { MLMModel } from '../model';
import { IRun, toNumber } from '../tokens';

/** Runs drawn at most: the first of the current query, in the table's order. */
export const PLOT_RUNS = 5000;
const PC_HEIGHT = 240;
const PC_MARGIN = { top: 28, bottom: 22, side: 48 };
const SCATTER = { width: 380, height: 260, margin: 44 };

interface IAxis {
  key: string;
  label: string;
  min: number;
  max: number;
  value: (run: IRun) => number | null;
}

type Range = [number, number];

function valueOf(key: string): (run: IRun) => number | null {
  const [kind, ...rest] = key.split('.');
  const name = rest.join('.');
  return run => {
    if (kind === 'params') {
      const text = run.params[name];
      const number =
        text === undefined || text.trim() === '' ? NaN : Number(text);
      return Number.isFinite(number) ? number : null;
    }
    const metric = run.metrics[name];
    const number = metric === undefined ? NaN : toNumber(metric.value);
    return Number.isFinite(number) ? number : null;
  };
}

/** Params whose values are all numbers, and metrics, that at least two runs have. */
export function numericAxes(runs: IRun[]): IAxis[] {
  const keys = new Set<string>();
  for (const run of runs) {
    Object.keys(run.params).forEach(k => keys.add(`params.${k}`));
    Object.keys(run.metrics).forEach(k => keys.add(`metrics.${k}`));
  }
  const axes: IAxis[] = [];
  for (const key of [...keys].sort()) {
    const value = valueOf(key);
    const kind = key.slice(0, key.indexOf('.'));
    const name = key.slice(kind.length + 1);
    let count = 0;
    let numeric = true;
    let min = Infinity;
    let max = -Infinity;
    for (const run of runs) {
      const present =
        kind === 'params' ? name in run.params : name in run.metrics;
      if (!present) {
        continue;
      }
      const v = value(run);
      if (v === null) {
        numeric = kind === 'metrics'; // a NaN metric is a gap; a text param is no axis
        continue;
      }
      count++;
      min = Math.min(min, v);
      max = Math.max(max, v);
    }
    if (numeric && count >= 2) {
      axes.push({ key, label: name, min, max, value });
    }
  }
  return axes;
}

function scale(axis: IAxis, value: number, from: number, to: number): number {
  const span = axis.max - axis.min;
  return span === 0
    ? (from + to) / 2
    : from + ((value - axis.min) / span) * (to - from);
}

function unscale(axis: IAxis, pixel: number, from: number, to: number): number {
  return axis.min + ((pixel - from) / (to - from || 1)) * (axis.max - axis.min);
}

/** Start a drag inside `svg`: `move(x, y)` while the button is down, `end()` at release. */
function drag(
  event: React.MouseEvent,
  svg: SVGSVGElement | null,
  move: (x: number, y: number) => void,
  end: () => void
): void {
  if (!svg) {
    return;
  }
  event.preventDefault();
  const box = svg.getBoundingClientRect();
  const at = (e: MouseEvent | React.MouseEvent): [number, number] => [
    e.clientX - box.left,
    e.clientY - box.top
  ];
  move(...at(event));
  const onMove = (e: MouseEvent): void => move(...at(e));
  const onUp = (): void => {
    window.removeEventListener('mousemove', onMove);
    window.removeEventListener('mouseup', onUp);
    end();
  };
  window.addEventListener('mousemove', onMove);
  window.addEventListener('mouseup', onUp);
}

/** The scatter's choice of key for one of its axes (class `jp-mlm-scatter-x` / `-y`). */
function AxisSelect(props: {
  name: 'x' | 'y';
  axes: IAxis[];
  value: string;
  onChange: (key: string) => void;
}): JSX.Element {
  return (
    <label>
      {props.name}{' '}
      <select
        className={`jp-mod-styled jp-mlm-scatter-${props.name}`}
        value={props.value}
        onChange={event => props.onChange(event.target.value)}
      >
        {props.axes.map(a => (
          <option key={a.key} value={a.key}>
            {a.key}
          </option>
        ))}
      </select>
    </label>
  );
}

/**
 * Parallel coordinates and a scatter plot of the runs the table lists (its query and sort, up to
 * PLOT_RUNS): brushing an axis range, or a rectangle in the scatter, selects those runs in the
 * table — ready for Compare.
 */
export function RunsPlots(props: { model: MLMModel }): JSX.Element {
  const { model } = props;
  const started = performance.now();
  const runs = model.loadedRuns(PLOT_RUNS);
  const axes = numericAxes(runs);
  const byKey = new Map(axes.map(a => [a.key, a]));
  const chosen = model.columns();
  const preferred = [
    ...chosen.params.map(k => `params.${k}`),
    ...chosen.metrics.map(k => `metrics.${k}`)
  ].filter(k => byKey.has(k));
  const shown = (preferred.length >= 2 ? preferred : axes.map(a => a.key))
    .slice(0, 12)
    .map(k => byKey.get(k) as IAxis);
  const [brushes, setBrushes] = useState<Record<string, Range>>({});
  const [dragging, setDragging] = useState<{
    key: string;
    range: Range;
  } | null>(null);
  const [xKey, setX] = useState<string>('');
  const [yKey, setY] = useState<string>('');
  const [rect, setRect] = useState<[number, number, number, number] | null>(
    null
  );
  const [width, setWidth] = useState(900);
  const box = useRef<HTMLDivElement>(null);
  const pc = useRef<SVGSVGElement>(null);
  const scatter = useRef<SVGSVGElement>(null);

  useEffect(() => {
    const element = box.current;
    if (!element) {
      return;
    }
    const observer = new ResizeObserver(() =>
      setWidth(Math.max(420, element.clientWidth - 8))
    );
    observer.observe(element);
    return () => observer.disconnect();
  }, []);
  // What one render of every line costs, for the benchmark (tests/benchmarks/bench_ui.py).
  useLayoutEffect(() => {
    pc.current?.setAttribute(
      'data-draw-ms',
      (performance.now() - started).toFixed(1)
    );
  });

  const active = {
    ...brushes,
    ...(dragging ? { [dragging.key]: dragging.range } : {})
  };
  const inside = (ranges: Record<string, Range>, run: IRun): boolean =>
    Object.entries(ranges).every(([key, [lo, hi]]) => {
      const v = byKey.get(key)?.value(run) ?? null;
      return v !== null && v >= Math.min(lo, hi) && v <= Math.max(lo, hi);
    });
  const brushed = (run: IRun): boolean => inside(active, run);
  const select = (ranges: Record<string, Range>): void => {
    setBrushes(ranges);
    if (Object.keys(ranges).length === 0) {
      model.clearSelection();
      return;
    }
    model.setSelection(runs.filter(run => inside(ranges, run)));
  };

  const top = PC_MARGIN.top;
  const bottom = PC_HEIGHT - PC_MARGIN.bottom;
  const xAt = (i: number): number =>
    shown.length < 2
      ? width / 2
      : PC_MARGIN.side +
        (i * (width - 2 * PC_MARGIN.side)) / (shown.length - 1);
  const yAt = (axis: IAxis, v: number): number => scale(axis, v, bottom, top);
  const path = (run: IRun): string => {
    let d = '';
    let open = false;
    shown.forEach((axis, i) => {
      const v = axis.value(run);
      if (v === null) {
        open = false;
        return;
      }
      d += `${open ? 'L' : 'M'}${xAt(i).toFixed(1)} ${yAt(axis, v).toFixed(1)}`;
      open = true;
    });
    return d;
  };
  const anyBrush = Object.keys(active).length > 0;
  const brushedCount = anyBrush ? runs.filter(brushed).length : runs.length;

  if (axes.length < 2) {
    return (
      <div className="jp-mlm-plots jp-mlm-muted" ref={box}>
        Plots need two numeric params or metrics among these{' '}
        {plural(runs.length, 'run')}.
      </div>
    );
  }
  const x = byKey.get(xKey) ?? shown[0] ?? axes[0];
  const y = byKey.get(yKey) ?? shown[shown.length - 1] ?? axes[1];
  const sx = (v: number): number =>
    scale(x, v, SCATTER.margin, SCATTER.width - 12);
  const sy = (v: number): number =>
    scale(y, v, SCATTER.height - SCATTER.margin + 12, 12);

  return (
    <div className="jp-mlm-plots" ref={box}>
      <div className="jp-mlm-plots-summary">
        {plural(runs.length, 'run')}
        {model.allRunsTotal > runs.length
          ? ` of ${model.allRunsTotal} (loading, or past ${PLOT_RUNS})`
          : ''}
        {anyBrush && (
          <>
            {' · '}
            <span className="jp-mlm-brushed-count">
              {brushedCount} brushed, selected in the table
            </span>{' '}
            <button
              className="jp-mlm-link jp-mlm-clear-brush"
              onClick={() => select({})}
            >
              clear
            </button>
          </>
        )}
        <span className="jp-mlm-muted">
          {' '}
          · drag along an axis or across the scatter to select runs
        </span>
      </div>
      <svg
        ref={pc}
        className="jp-mlm-parallel"
        width={width}
        height={PC_HEIGHT}
        data-runs={runs.length}
        data-axes={shown.map(a => a.key).join(',')}
        role="img"
        aria-label={`Parallel coordinates of ${runs.length} runs`}
      >
        <g className="jp-mlm-pc-lines">
          {runs.map(run => (
            <path
              key={run.id}
              d={path(run)}
              data-run-id={run.id}
              className={
                'jp-mlm-pc-line' +
                (anyBrush && !brushed(run) ? ' jp-mlm-faded' : '') +
                (model.isSelected(run.id) ? ' jp-mlm-picked' : '')
              }
            >
              <title>{run.name}</title>
            </path>
          ))}
        </g>
        {shown.map((axis, i) => {
          const range = active[axis.key];
          return (
            <g key={axis.key} className="jp-mlm-pc-axis" data-key={axis.key}>
              <line x1={xAt(i)} x2={xAt(i)} y1={top} y2={bottom} />
              <text
                x={xAt(i)}
                y={top - 12}
                textAnchor="middle"
                className="jp-mlm-pc-label"
              >
                {axis.label}
              </text>
              <text x={xAt(i) + 4} y={top + 4} className="jp-mlm-pc-tick">
                {formatNumber(axis.max)}
              </text>
              <text x={xAt(i) + 4} y={bottom} className="jp-mlm-pc-tick">
                {formatNumber(axis.min)}
              </text>
              {range && (
                <rect
                  className="jp-mlm-brush"
                  x={xAt(i) - 8}
                  width={16}
                  y={Math.min(yAt(axis, range[0]), yAt(axis, range[1]))}
                  height={Math.abs(yAt(axis, range[0]) - yAt(axis, range[1]))}
                />
              )}
              <rect
                className="jp-mlm-brush-target"
                data-key={axis.key}
                x={xAt(i) - 12}
                width={24}
                y={top}
                height={bottom - top}
                onMouseDown={event => {
                  let range: Range | null = null;
                  let startY = 0;
                  drag(
                    event,
                    pc.current,
                    (_, py) => {
                      const clamped = Math.max(top, Math.min(bottom, py));
                      if (range === null) {
                        startY = clamped;
                      }
                      range = [
                        unscale(axis, startY, bottom, top),
                        unscale(axis, clamped, bottom, top)
                      ];
                      setDragging({ key: axis.key, range });
                    },
                    () => {
                      setDragging(null);
                      const next = { ...brushes };
                      // A click (no drag) on an axis clears its brush.
                      if (
                        range === null ||
                        Math.abs(yAt(axis, range[0]) - yAt(axis, range[1])) < 3
                      ) {
                        delete next[axis.key];
                      } else {
                        next[axis.key] = range;
                      }
                      select(next);
                    }
                  );
                }}
              />
            </g>
          );
        })}
      </svg>
      <div className="jp-mlm-scatter-box">
        <div className="jp-mlm-toolbar">
          <AxisSelect name="x" axes={axes} value={x.key} onChange={setX} />
          <AxisSelect name="y" axes={axes} value={y.key} onChange={setY} />
        </div>
        <svg
          ref={scatter}
          className="jp-mlm-scatter"
          width={SCATTER.width}
          height={SCATTER.height}
          data-x={x.key}
          data-y={y.key}
          role="img"
          aria-label={`${y.label} against ${x.label}`}
          onMouseDown={event => {
            let corners: [number, number, number, number] | null = null;
            drag(
              event,
              scatter.current,
              (px, py) => {
                corners = corners
                  ? [corners[0], corners[1], px, py]
                  : [px, py, px, py];
                setRect(corners);
              },
              () => {
                setRect(null);
                if (!corners || Math.abs(corners[2] - corners[0]) < 3) {
                  select({});
                  return;
                }
                const [x0, y0, x1, y1] = corners;
                const from = SCATTER.height - SCATTER.margin + 12;
                select({
                  [x.key]: [
                    unscale(
                      x,
                      Math.min(x0, x1),
                      SCATTER.margin,
                      SCATTER.width - 12
                    ),
                    unscale(
                      x,
                      Math.max(x0, x1),
                      SCATTER.margin,
                      SCATTER.width - 12
                    )
                  ],
                  [y.key]: [
                    unscale(y, Math.max(y0, y1), from, 12),
                    unscale(y, Math.min(y0, y1), from, 12)
                  ]
                });
              }
            );
          }}
        >
          <line
            className="jp-mlm-axis-line"
            x1={SCATTER.margin}
            x2={SCATTER.width - 12}
            y1={SCATTER.height - SCATTER.margin + 12}
            y2={SCATTER.height - SCATTER.margin + 12}
          />
          <line
            className="jp-mlm-axis-line"
            x1={SCATTER.margin}
            x2={SCATTER.margin}
            y1={12}
            y2={SCATTER.height - SCATTER.margin + 12}
          />
          <text
            x={SCATTER.width / 2}
            y={SCATTER.height - 4}
            textAnchor="middle"
            className="jp-mlm-pc-label"
          >
            {x.label} ({formatNumber(x.min)} … {formatNumber(x.max)})
          </text>
          <text x={4} y={10} className="jp-mlm-pc-label">
            {y.label} ({formatNumber(y.min)} … {formatNumber(y.max)})
          </text>
          {runs.map(run => {
            const vx = x.value(run);
            const vy = y.value(run);
            if (vx === null || vy === null) {
              return null;
            }
            return (
              <circle
                key={run.id}
                data-run-id={run.id}
                cx={sx(vx)}
                cy={sy(vy)}
                r={model.isSelected(run.id) ? 4 : 3}
                className={
                  'jp-mlm-point' +
                  (anyBrush && !brushed(run) ? ' jp-mlm-faded' : '') +
                  (model.isSelected(run.id) ? ' jp-mlm-picked' : '')
                }
              >
                <title>
                  {run.name}: {x.label} {formatNumber(vx)}, {y.label}{' '}
                  {formatNumber(vy)}
                </title>
              </circle>
            );
          })}
          {rect && (
            <rect
              className="jp-mlm-brush"
              x={Math.min(rect[0], rect[2])}
              y={Math.min(rect[1], rect[3])}
              width={Math.abs(rect[2] - rect[0])}
              height={Math.abs(rect[3] - rect[1])}
            />
          )}
        </svg>
      </div>
    </div>
  );
}
