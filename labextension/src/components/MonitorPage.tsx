import React from 'react';

import { formatNumber, formatTime } from '../format';
import { MonitorPageModel } from '../monitor';
import { ITimeline, toNumber, WireNumber } from '../tokens';
import { Distribution, SeriesChart } from './MonitorCharts';

const WINDOWS = ['1h', '1d', '7d', 'all'];

function num(value: WireNumber | null | undefined): string {
  return value === null || value === undefined
    ? '—'
    : formatNumber(toNumber(value));
}

/** A monitored model: drift per feature over a window, performance, latency, charts, alerts. */
export function MonitorPage(props: { model: MonitorPageModel }): JSX.Element {
  const { model } = props;
  const report = model.report;
  const drift = report?.drift ?? null;
  return (
    <div className="jp-mlm-monitor-page" data-model={model.name}>
      <div className="jp-mlm-model-header">
        <h2>Monitoring {model.name}</h2>
        {report && (
          <span className="jp-mlm-muted">
            v{report.version} · {report.rows.toLocaleString()} rows in{' '}
            {report.batches} batch(es)
          </span>
        )}
        <span className="jp-mlm-spacer" />
        <select
          className="jp-mod-styled jp-mlm-window"
          aria-label="Window"
          value={model.window}
          onChange={e => model.setWindow(e.target.value)}
        >
          {WINDOWS.map(w => (
            <option key={w} value={w}>
              {w === 'all' ? 'all data' : `last ${w}`}
            </option>
          ))}
        </select>
      </div>
      {model.error && (
        <div className="jp-mlm-error" role="alert">
          {model.error}
        </div>
      )}
      {drift && (
        <div
          className={`jp-mlm-notice ${drift.dataset_drift ? 'jp-mlm-drift-yes' : ''}`}
          role="status"
        >
          {drift.drifted} of {drift.columns.length} columns drifted (
          {Math.round(drift.share * 100)}%; dataset drift at{' '}
          {Math.round(drift.share_threshold * 100)}%):{' '}
          <b>{drift.dataset_drift ? 'dataset drift' : 'no dataset drift'}</b>
        </div>
      )}
      {report && !report.has_reference && (
        <div className="jp-mlm-muted">
          No reference for this version: register it with reference_data=… to
          see drift.
        </div>
      )}
      <div className="jp-mlm-charts">
        <SeriesChart title="drift share" series={model.drift} />
        <SeriesChart title="rows" series={model.rows} />
      </div>
      {drift && (
        <section className="jp-mlm-section">
          <h3>Features</h3>
          <table className="jp-mlm-kv jp-mlm-drift-table">
            <thead>
              <tr>
                <th>Column</th>
                <th>Type</th>
                <th>Method</th>
                <th>Score</th>
                <th>Threshold</th>
                <th>Verdict</th>
                <th>PSI</th>
                <th>Reference / current</th>
              </tr>
            </thead>
            <tbody>
              {drift.columns.map(c => (
                <tr
                  key={c.column}
                  data-column={c.column}
                  data-drifted={c.drifted ? 'true' : 'false'}
                >
                  <td>{c.column}</td>
                  <td>{c.type}</td>
                  <td>{c.method}</td>
                  <td className="jp-mlm-num">{num(c.score)}</td>
                  <td className="jp-mlm-num">{c.threshold}</td>
                  <td className={c.drifted ? 'jp-mlm-error-text' : 'jp-mlm-ok'}>
                    {c.drifted ? 'drift' : 'ok'}
                  </td>
                  <td className="jp-mlm-num">{num(c.psi)}</td>
                  <td>
                    <Distribution bins={report?.distributions?.[c.column]} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </section>
      )}
      {report?.performance && (
        <section className="jp-mlm-section">
          <h3>
            Performance{' '}
            <span className="jp-mlm-muted">
              on {report.performance.rows.toLocaleString()} labelled rows
            </span>
          </h3>
          <table className="jp-mlm-kv jp-mlm-performance">
            <tbody>
              {Object.entries(report.performance.metrics).map(([k, v]) => (
                <tr key={k}>
                  <th>{k}</th>
                  <td className="jp-mlm-num">{num(v)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </section>
      )}
      {model.arms.length > 1 && (
        <section className="jp-mlm-section">
          <h3>Arms</h3>
          <table className="jp-mlm-kv jp-mlm-arms">
            <thead>
              <tr>
                <th>Traffic</th>
                <th>Version</th>
                <th>Rows</th>
                <th>Labelled</th>
                <th>Accuracy</th>
                <th>ROC-AUC</th>
              </tr>
            </thead>
            <tbody>
              {model.arms.map(a => (
                <tr key={`${a.source}-${a.version}`} data-source={a.source}>
                  <td>
                    {a.source === 'shadow'
                      ? 'shadow (never answered)'
                      : a.arm
                        ? `arm ${a.arm}`
                        : a.source === 'serve'
                          ? 'answered'
                          : `logged (${a.source})`}
                  </td>
                  <td>v{a.version}</td>
                  <td className="jp-mlm-num">{a.rows.toLocaleString()}</td>
                  <td className="jp-mlm-num">
                    {a.labeled_rows.toLocaleString()}
                  </td>
                  <td className="jp-mlm-num">{num(a.metrics.accuracy)}</td>
                  <td className="jp-mlm-num">{num(a.metrics.roc_auc)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </section>
      )}
      {model.timeline && <LoopSection timeline={model.timeline} />}
      <section className="jp-mlm-section">
        <h3>Alerts</h3>
        {(report?.alerts ?? []).length === 0 ? (
          <div className="jp-mlm-muted">no alerts in this window</div>
        ) : (
          <table className="jp-mlm-kv jp-mlm-alerts">
            <tbody>
              {(report?.alerts ?? []).map(a => (
                <tr key={a.id} data-alert={a.id}>
                  <th>{formatTime(a.ts_ms)}</th>
                  <td>
                    <code>{a.expression}</code> = {num(a.value)} (v
                    {a.version ?? '?'})
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
    </div>
  );
}

const STEP_LABELS: Record<string, string> = {
  alert: 'alert',
  add_rule: 'rule',
  set_loop_policy: 'policy',
  job_queued: 'job',
  job_started: 'job',
  job_succeeded: 'job',
  job_failed: 'job',
  compare: 'comparison',
  promotion_requested: 'request',
  promoted: 'promotion',
  approve: 'approval',
  reject: 'rejection',
  transition: 'stage',
  restore: 'rollback',
  rolled_back: 'rollback'
};

/**
 * The model's loop as one story, in audit-log order: alert → retraining job → comparison →
 * promotion request → approval → promotion → rollback; and the comparisons with their
 * intervals.
 */
export function LoopSection(props: { timeline: ITimeline }): JSX.Element {
  const { events, comparisons, policy } = props.timeline;
  const waiting =
    events.length > 0 &&
    events[events.length - 1].action === 'promotion_requested';
  return (
    <section className="jp-mlm-section jp-mlm-loop">
      <h3>Loop</h3>
      {policy ? (
        <div className="jp-mlm-muted jp-mlm-loop-policy">
          {policy.promote_if && (
            <span>
              promote when <code>{policy.promote_if}</code> (≥ {policy.min_rows}{' '}
              labelled rows){' '}
            </span>
          )}
          {policy.rollback_if && (
            <span>
              · roll back when <code>{policy.rollback_if}</code>
            </span>
          )}
        </div>
      ) : (
        <div className="jp-mlm-muted">
          No promotion policy: mlm.monitor.policy(model, promote_if=…,
          rollback_if=…)
        </div>
      )}
      {waiting && (
        <div className="jp-mlm-notice" role="status">
          The loop is waiting for a person: approve or reject the promotion
          request on the model page.
        </div>
      )}
      {events.length === 0 ? (
        <div className="jp-mlm-muted">nothing has happened yet</div>
      ) : (
        <ol className="jp-mlm-timeline">
          {events.map(e => (
            <li
              key={e.seq}
              data-action={e.action}
              data-seq={e.seq}
              className={`jp-mlm-step jp-mlm-step-${STEP_LABELS[e.action] ?? 'other'}`}
            >
              <span className="jp-mlm-step-kind">
                {STEP_LABELS[e.action] ?? e.action}
              </span>
              <span className="jp-mlm-step-text">{e.text}</span>
              <span className="jp-mlm-muted">
                {formatTime(e.ts_ms)} · {e.actor}
              </span>
            </li>
          ))}
        </ol>
      )}
      {comparisons.length > 0 && (
        <table className="jp-mlm-kv jp-mlm-comparisons">
          <thead>
            <tr>
              <th>When</th>
              <th>Versions</th>
              <th>Metric</th>
              <th>a</th>
              <th>b</th>
              <th>b − a (95 %)</th>
              <th>Rows</th>
            </tr>
          </thead>
          <tbody>
            {comparisons.map(c => (
              <tr key={c.id} data-comparison={c.id}>
                <td>{formatTime(c.created_ms)}</td>
                <td>
                  v{c.version_a} → v{c.version_b} ({c.source})
                </td>
                <td>{c.metric}</td>
                <td className="jp-mlm-num">{num(c.value_a)}</td>
                <td className="jp-mlm-num">{num(c.value_b)}</td>
                <td
                  className={`jp-mlm-num ${c.b_better ? 'jp-mlm-ok' : 'jp-mlm-error-text'}`}
                >
                  {num(c.delta)} [{num(c.ci_low)}, {num(c.ci_high)}]
                </td>
                <td className="jp-mlm-num">{c.rows.toLocaleString()}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
