import React from 'react';

import { formatNumber, formatTime } from '../format';
import { IMonitorSeries, toNumber } from '../tokens';

const W = 420;
const H = 150;
const PAD = { left: 48, right: 10, top: 10, bottom: 22 };

/** A series over time with a red mark at each alert and a green one at each promotion. */
export function SeriesChart(props: {
  title: string;
  series: IMonitorSeries | null;
}): JSX.Element | null {
  const { series } = props;
  if (!series || series.points.length === 0) {
    return null;
  }
  const points = series.points
    .filter(p => p.value !== null)
    .map(
      p =>
        [
          p.time_ms + (series.every_ms ?? 0) / 2,
          toNumber(p.value ?? 0)
        ] as const
    )
    .filter(([, v]) => Number.isFinite(v));
  const times = series.points.map(p => p.time_ms);
  const t0 = Math.min(...times);
  // Each point starts its bucket: the chart runs to the end of the last one.
  const t1 = Math.max(...times) + Math.max(series.every_ms ?? 0, 1);
  const values = points.map(([, v]) => v);
  const v0 = Math.min(0, ...values);
  const v1 = Math.max(v0 + 1e-9, ...values);
  const x = (t: number): number =>
    PAD.left + ((W - PAD.left - PAD.right) * (t - t0)) / (t1 - t0);
  const y = (v: number): number =>
    PAD.top + (H - PAD.top - PAD.bottom) * (1 - (v - v0) / (v1 - v0));
  const marks = (items: { ts_ms: number }[], kind: string): JSX.Element[] =>
    items
      .filter(m => m.ts_ms >= t0 && m.ts_ms <= t1)
      .map((m, i) => (
        <line
          key={`${kind}-${i}`}
          className={`jp-mlm-mark jp-mlm-mark-${kind}`}
          data-kind={kind}
          x1={x(m.ts_ms)}
          x2={x(m.ts_ms)}
          y1={PAD.top}
          y2={H - PAD.bottom}
        />
      ));
  return (
    <div
      className="jp-mlm-chart jp-mlm-series-chart"
      data-metric={series.metric}
    >
      <div className="jp-mlm-chart-title">
        {props.title}{' '}
        <span className="jp-mlm-muted">
          (every {series.every} since {formatTime(t0)}; red: alerts, green:
          promotions)
        </span>
      </div>
      <svg width={W} height={H} role="img" aria-label={props.title}>
        <text x={4} y={PAD.top + 8} className="jp-mlm-axis">
          {formatNumber(v1)}
        </text>
        <text x={4} y={H - PAD.bottom} className="jp-mlm-axis">
          {formatNumber(v0)}
        </text>
        {marks(series.alerts, 'alert')}
        {marks(series.promotions ?? [], 'promotion')}
        {points.length === 1 ? (
          <circle
            className="jp-mlm-series-point"
            cx={x(points[0][0])}
            cy={y(points[0][1])}
            r={3}
          />
        ) : (
          <polyline
            className="jp-mlm-series-line"
            fill="none"
            points={points.map(([t, v]) => `${x(t)},${y(v)}`).join(' ')}
          />
        )}
      </svg>
    </div>
  );
}

/** Reference and current shares on the same bins, side by side. */
export function Distribution(props: {
  bins:
    { labels: string[]; reference: number[]; current: number[] } | undefined;
}): JSX.Element | null {
  const bins = props.bins;
  if (!bins || bins.reference.length === 0) {
    return null;
  }
  const total = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) || 1;
  const ref = bins.reference.map(c => c / total(bins.reference));
  const cur = bins.current.map(c => c / total(bins.current));
  const top = Math.max(...ref, ...cur, 1e-9);
  const width = 140;
  const height = 28;
  const step = width / ref.length;
  return (
    <svg
      width={width}
      height={height}
      role="img"
      aria-label="reference and current distributions"
      className="jp-mlm-distribution"
    >
      {ref.map((r, i) => (
        <g key={i}>
          <title>{`${bins.labels[i]}: reference ${(r * 100).toFixed(1)}%, current ${((cur[i] ?? 0) * 100).toFixed(1)}%`}</title>
          <rect
            className="jp-mlm-bar-reference"
            x={i * step}
            y={height * (1 - r / top)}
            width={step / 2}
            height={(height * r) / top}
          />
          <rect
            className="jp-mlm-bar-current"
            x={i * step + step / 2}
            y={height * (1 - (cur[i] ?? 0) / top)}
            width={step / 2}
            height={(height * (cur[i] ?? 0)) / top}
          />
        </g>
      ))}
    </svg>
  );
}
