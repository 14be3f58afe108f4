import React, { useState } from 'react';

import { formatNumber, formatTick, formatTime } from '../format';

export interface ISeries {
  label: string;
  steps: number[];
  values: number[];
  /** Milliseconds since the epoch, one per point: what the wall and relative axes use. */
  timestamps?: number[];
}

export type XAxis = 'step' | 'wall' | 'relative';

const WIDTH = 420;
const HEIGHT = 180;
const LARGE = { width: 900, height: 380 };
const PAD = { left: 64, right: 12, top: 10, bottom: 24 };
const COLOURS = [
  'var(--jp-brand-color1)',
  'var(--jp-warn-color1)',
  'var(--jp-success-color1)',
  'var(--jp-error-color1)',
  'var(--jp-accent-color1)'
];
/** A drag narrower than this (in chart units) is a click, not a zoom. */
const MIN_DRAG = 4;

/**
 * TensorBoard's smoothing: an exponential moving average, debiased so the first points are not
 * pulled towards zero. Non-finite values pass through and do not enter the average.
 */
export function smooth(values: number[], weight: number): number[] {
  if (weight <= 0) {
    return values.slice();
  }
  let last = 0;
  let count = 0;
  return values.map(value => {
    if (!Number.isFinite(value)) {
      return value;
    }
    last = last * weight + (1 - weight) * value;
    count++;
    return last / (1 - Math.pow(weight, count));
  });
}

function formatSeconds(seconds: number): string {
  if (Math.abs(seconds) < 60) {
    return `${formatTick(seconds)} s`;
  }
  if (Math.abs(seconds) < 3600) {
    return `${formatTick(seconds / 60)} min`;
  }
  return `${formatTick(seconds / 3600)} h`;
}

/**
 * An SVG line chart of one metric for one or more runs. The x axis is the step, the wall-clock
 * time or the time since each series' first point; the y axis linear or logarithmic; lines can
 * be smoothed (the raw line stays, faint); dragging across the chart zooms into that range
 * (double-click or "Reset zoom" undoes it) and "Enlarge" draws it wide. Hovering shows the
 * nearest point of each series. Non-finite values are left out of the line.
 */
export function LineChart(props: {
  title: string;
  series: ISeries[];
}): JSX.Element {
  const { title, series } = props;
  const [hover, setHover] = useState<number | null>(null);
  const [axis, setAxis] = useState<XAxis>('step');
  const [log, setLog] = useState(false);
  const [weight, setWeight] = useState(0);
  const [zoom, setZoom] = useState<[number, number] | null>(null);
  const [drag, setDrag] = useState<[number, number] | null>(null);
  const [large, setLarge] = useState(false);
  const width = large ? LARGE.width : WIDTH;
  const height = large ? LARGE.height : HEIGHT;

  const timed = series.every(
    s => s.timestamps !== undefined && s.timestamps.length === s.steps.length
  );
  const shownAxis: XAxis = timed ? axis : 'step';
  const xOf = (s: ISeries, i: number): number => {
    if (shownAxis === 'step' || !s.timestamps) {
      return s.steps[i];
    }
    return shownAxis === 'wall'
      ? s.timestamps[i]
      : (s.timestamps[i] - s.timestamps[0]) / 1000;
  };
  const positive = series.every(s =>
    s.values.every(v => !Number.isFinite(v) || v > 0)
  );
  const shownLog = log && positive;
  const yOf = (v: number): number => (shownLog ? Math.log10(v) : v);
  const smoothed = series.map(s => smooth(s.values, weight));

  const all = series.flatMap(s =>
    s.steps
      .map((_, i) => [xOf(s, i), s.values[i]] as const)
      .filter(([, v]) => Number.isFinite(v))
  );
  const controls = (
    <div className="jp-mlm-chart-controls">
      <select
        className="jp-mlm-chart-axis"
        aria-label="x axis"
        value={shownAxis}
        disabled={!timed}
        onChange={event => {
          setAxis(event.target.value as XAxis);
          setZoom(null);
        }}
      >
        <option value="step">Step</option>
        <option value="wall">Wall time</option>
        <option value="relative">Relative time</option>
      </select>
      <label title={positive ? '' : 'A log scale needs values above zero'}>
        <input
          type="checkbox"
          className="jp-mlm-chart-log"
          checked={shownLog}
          disabled={!positive}
          onChange={event => setLog(event.target.checked)}
        />{' '}
        log
      </label>
      <label title="Exponential moving average (0: off)">
        smooth{' '}
        <input
          type="range"
          className="jp-mlm-chart-smoothing"
          min={0}
          max={0.99}
          step={0.01}
          value={weight}
          onChange={event => setWeight(Number(event.target.value))}
        />{' '}
        <span className="jp-mlm-chart-weight">{weight.toFixed(2)}</span>
      </label>
      {zoom !== null && (
        <button
          className="jp-mlm-link jp-mlm-chart-reset"
          onClick={() => setZoom(null)}
        >
          Reset zoom
        </button>
      )}
      <button
        className="jp-mlm-link jp-mlm-chart-enlarge"
        aria-pressed={large}
        onClick={() => setLarge(!large)}
      >
        {large ? 'Shrink' : 'Enlarge'}
      </button>
    </div>
  );
  if (all.length === 0) {
    return (
      <div className="jp-mlm-chart" data-metric={title}>
        <div className="jp-mlm-chart-title">{title}</div>
        <div className="jp-mlm-muted">no finite values</div>
      </div>
    );
  }
  const xs = all.map(([px]) => px);
  let [xMin, xMax] = zoom ?? [Math.min(...xs), Math.max(...xs)];
  const inRange = (px: number): boolean => px >= xMin && px <= xMax;
  const ys = series.flatMap((s, n) =>
    s.steps
      .map((_, i) => [xOf(s, i), s.values[i], smoothed[n][i]] as const)
      .filter(([px, v]) => Number.isFinite(v) && inRange(px))
      .flatMap(([, v, sv]) => [yOf(v), yOf(sv)])
  );
  let [yMin, yMax] =
    ys.length > 0 ? [Math.min(...ys), Math.max(...ys)] : [0, 1];
  if (xMin === xMax) {
    xMin -= 1;
    xMax += 1;
  }
  if (yMin === yMax) {
    yMin -= Math.abs(yMin) * 0.1 || 1;
    yMax += Math.abs(yMax) * 0.1 || 1;
  }
  const innerW = width - PAD.left - PAD.right;
  const innerH = height - PAD.top - PAD.bottom;
  const x = (px: number): number =>
    PAD.left + ((px - xMin) / (xMax - xMin)) * innerW;
  const y = (value: number): number =>
    PAD.top + (1 - (yOf(value) - yMin) / (yMax - yMin)) * innerH;
  const xTick = (px: number): string =>
    shownAxis === 'wall'
      ? formatTime(px).slice(11, 19)
      : shownAxis === 'relative'
        ? formatSeconds(px)
        : formatTick(px);
  const yTick = (v: number): string =>
    shownLog ? formatTick(Math.pow(10, v)) : formatTick(v);

  const chartX = (event: React.MouseEvent<SVGSVGElement>): number => {
    const box = event.currentTarget.getBoundingClientRect();
    return ((event.clientX - box.left) / box.width) * width;
  };
  const valueAt = (cx: number): number =>
    Math.min(
      xMax,
      Math.max(xMin, xMin + ((cx - PAD.left) / innerW) * (xMax - xMin))
    );
  const onMove = (event: React.MouseEvent<SVGSVGElement>): void => {
    const cx = chartX(event);
    setHover(valueAt(cx));
    if (drag !== null) {
      setDrag([drag[0], cx]);
    }
  };
  const onUp = (): void => {
    if (drag !== null && Math.abs(drag[1] - drag[0]) >= MIN_DRAG) {
      const [a, b] = [valueAt(drag[0]), valueAt(drag[1])].sort((p, q) => p - q);
      if (b > a) {
        setZoom([a, b]);
      }
    }
    setDrag(null);
  };

  const nearest = (s: ISeries, px: number): number => {
    let best = 0;
    for (let i = 1; i < s.steps.length; i++) {
      if (Math.abs(xOf(s, i) - px) < Math.abs(xOf(s, best) - px)) {
        best = i;
      }
    }
    return best;
  };
  const line = (s: ISeries, values: number[]): string =>
    s.steps
      .map((_, i) =>
        Number.isFinite(values[i]) && inRange(xOf(s, i))
          ? `${x(xOf(s, i))},${y(values[i])}`
          : ''
      )
      .filter(p => p !== '')
      .join(' ');

  return (
    <div
      className={`jp-mlm-chart${large ? ' jp-mlm-chart-large' : ''}`}
      data-metric={title}
      data-x-axis={shownAxis}
      data-log={String(shownLog)}
      data-x-range={`${xMin},${xMax}`}
    >
      <div className="jp-mlm-chart-title">{title}</div>
      {controls}
      <svg
        viewBox={`0 0 ${width} ${height}`}
        width="100%"
        onMouseMove={onMove}
        onMouseDown={event => setDrag([chartX(event), chartX(event)])}
        onMouseUp={onUp}
        onDoubleClick={() => setZoom(null)}
        onMouseLeave={() => {
          setHover(null);
          setDrag(null);
        }}
        role="img"
        aria-label={`Chart of ${title}`}
      >
        <line
          className="jp-mlm-axis"
          x1={PAD.left}
          x2={PAD.left}
          y1={PAD.top}
          y2={PAD.top + innerH}
        />
        <line
          className="jp-mlm-axis"
          x1={PAD.left}
          x2={PAD.left + innerW}
          y1={PAD.top + innerH}
          y2={PAD.top + innerH}
        />
        <text
          className="jp-mlm-tick jp-mlm-tick-y-max"
          x={PAD.left - 4}
          y={PAD.top + 8}
          textAnchor="end"
        >
          {yTick(yMax)}
        </text>
        <text
          className="jp-mlm-tick jp-mlm-tick-y-min"
          x={PAD.left - 4}
          y={PAD.top + innerH}
          textAnchor="end"
        >
          {yTick(yMin)}
        </text>
        <text
          className="jp-mlm-tick jp-mlm-tick-x-min"
          x={PAD.left}
          y={height - 6}
        >
          {xTick(xMin)}
        </text>
        <text
          className="jp-mlm-tick jp-mlm-tick-x-max"
          x={PAD.left + innerW}
          y={height - 6}
          textAnchor="end"
        >
          {xTick(xMax)}
        </text>
        {series.map((s, index) => (
          <polyline
            key={s.label}
            className="jp-mlm-line"
            fill="none"
            stroke={COLOURS[index % COLOURS.length]}
            strokeWidth={1.5}
            strokeOpacity={weight > 0 ? 0.3 : 1}
            points={line(s, s.values)}
          />
        ))}
        {weight > 0 &&
          series.map((s, index) => (
            <polyline
              key={`${s.label}-smoothed`}
              className="jp-mlm-smoothed"
              data-values={JSON.stringify(smoothed[index])}
              fill="none"
              stroke={COLOURS[index % COLOURS.length]}
              strokeWidth={2}
              points={line(s, smoothed[index])}
            />
          ))}
        {drag !== null && Math.abs(drag[1] - drag[0]) >= MIN_DRAG && (
          <rect
            className="jp-mlm-chart-brush"
            x={Math.min(...drag)}
            y={PAD.top}
            width={Math.abs(drag[1] - drag[0])}
            height={innerH}
          />
        )}
        {hover !== null && (
          <line
            className="jp-mlm-cursor"
            x1={x(hover)}
            x2={x(hover)}
            y1={PAD.top}
            y2={PAD.top + innerH}
          />
        )}
      </svg>
      {series.length > 1 && (
        <ul className="jp-mlm-legend">
          {series.map((s, index) => (
            <li key={s.label}>
              <span
                className="jp-mlm-swatch"
                style={{ background: COLOURS[index % COLOURS.length] }}
              />
              {s.label}
            </li>
          ))}
        </ul>
      )}
      {hover !== null && (
        <div className="jp-mlm-tooltip" role="tooltip">
          {series.map((s, n) => {
            const i = nearest(s, hover);
            return (
              <div key={s.label}>
                {series.length > 1 ? `${s.label}: ` : ''}step {s.steps[i]}
                {shownAxis !== 'step' ? ` (${xTick(xOf(s, i))})` : ''} →{' '}
                <b>{formatNumber(s.values[i])}</b>
                {weight > 0
                  ? ` (smoothed ${formatNumber(smoothed[n][i])})`
                  : ''}
              </div>
            );
          })}
        </div>
      )}
    </div>
  );
}
