import React, { useState } from 'react';

import { formatNumber, formatTick } from '../format';

export interface ISeries {
  label: string;
  steps: number[];
  values: number[];
}

const WIDTH = 420;
const HEIGHT = 180;
const PAD = { left: 64, right: 12, top: 10, bottom: 24 };
const COLOURS = [
  'var(--jp-brand-color1)',
  'var(--jp-warn-color1)',
  'var(--jp-success-color1)',
  'var(--jp-error-color1)',
  'var(--jp-accent-color1)'
];

/**
 * An SVG line chart: step on x, value on y; hovering shows the nearest point of each series.
 * Non-finite values are left out of the line (they are listed in the tooltip as they are).
 */
export function LineChart(props: {
  title: string;
  series: ISeries[];
}): JSX.Element {
  const { title, series } = props;
  const [hover, setHover] = useState<number | null>(null);
  const finite = series.flatMap(s =>
    s.steps
      .map((step, i) => [step, s.values[i]] as const)
      .filter(([, v]) => Number.isFinite(v))
  );
  if (finite.length === 0) {
    return (
      <div className="jp-mlm-chart">
        <div className="jp-mlm-chart-title">{title}</div>
        <div className="jp-mlm-muted">no finite values</div>
      </div>
    );
  }
  const xs = finite.map(([x]) => x);
  const ys = finite.map(([, y]) => y);
  let [xMin, xMax] = [Math.min(...xs), Math.max(...xs)];
  let [yMin, yMax] = [Math.min(...ys), Math.max(...ys)];
  if (xMin === xMax) {
    xMin -= 1;
    xMax += 1;
  }
  if (yMin === yMax) {
    yMin -= Math.abs(yMin) * 0.1 || 1;
    yMax += Math.abs(yMax) * 0.1 || 1;
  }
  const innerW = WIDTH - PAD.left - PAD.right;
  const innerH = HEIGHT - PAD.top - PAD.bottom;
  const x = (step: number): number =>
    PAD.left + ((step - xMin) / (xMax - xMin)) * innerW;
  const y = (value: number): number =>
    PAD.top + (1 - (value - yMin) / (yMax - yMin)) * innerH;

  const onMove = (event: React.MouseEvent<SVGSVGElement>): void => {
    const box = event.currentTarget.getBoundingClientRect();
    const px = ((event.clientX - box.left) / box.width) * WIDTH;
    const step = xMin + ((px - PAD.left) / innerW) * (xMax - xMin);
    setHover(Math.min(xMax, Math.max(xMin, step)));
  };

  const nearest = (s: ISeries, step: number): number => {
    let best = 0;
    for (let i = 1; i < s.steps.length; i++) {
      if (Math.abs(s.steps[i] - step) < Math.abs(s.steps[best] - step)) {
        best = i;
      }
    }
    return best;
  };

  return (
    <div className="jp-mlm-chart" data-metric={title}>
      <div className="jp-mlm-chart-title">{title}</div>
      <svg
        viewBox={`0 0 ${WIDTH} ${HEIGHT}`}
        width="100%"
        onMouseMove={onMove}
        onMouseLeave={() => setHover(null)}
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
          className="jp-mlm-tick"
          x={PAD.left - 4}
          y={PAD.top + 8}
          textAnchor="end"
        >
          {formatTick(yMax)}
        </text>
        <text
          className="jp-mlm-tick"
          x={PAD.left - 4}
          y={PAD.top + innerH}
          textAnchor="end"
        >
          {formatTick(yMin)}
        </text>
        <text className="jp-mlm-tick" x={PAD.left} y={HEIGHT - 6}>
          {formatTick(xMin)}
        </text>
        <text
          className="jp-mlm-tick"
          x={PAD.left + innerW}
          y={HEIGHT - 6}
          textAnchor="end"
        >
          {formatTick(xMax)}
        </text>
        {series.map((s, index) => (
          <polyline
            key={s.label}
            fill="none"
            stroke={COLOURS[index % COLOURS.length]}
            strokeWidth={1.5}
            points={s.steps
              .map((step, i) =>
                Number.isFinite(s.values[i])
                  ? `${x(step)},${y(s.values[i])}`
                  : ''
              )
              .filter(p => p !== '')
              .join(' ')}
          />
        ))}
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
          {series.map(s => {
            const i = nearest(s, hover);
            return (
              <div key={s.label}>
                {series.length > 1 ? `${s.label}: ` : ''}step {s.steps[i]} →{' '}
                <b>{formatNumber(s.values[i])}</b>
              </div>
            );
          })}
        </div>
      )}
    </div>
  );
}
