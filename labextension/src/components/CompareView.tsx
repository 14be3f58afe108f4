import React, { useEffect, useState } from 'react';

import { formatNumber } from '../format';
import { messageOf, MLMModel } from '../model';
import { IKeyedDiff, IRun, IRunDiff, toNumber } from '../tokens';
import { ISeries, LineChart } from './LineChart';

function KeyedChanges(props: {
  title: string;
  diff?: IKeyedDiff;
}): JSX.Element | null {
  const diff = props.diff;
  if (!diff) {
    return null;
  }
  const rows = [
    ...Object.entries(diff.added).map(([k, v]) => ['added', k, '', v]),
    ...Object.entries(diff.removed).map(([k, v]) => ['removed', k, v, '']),
    ...Object.entries(diff.changed).map(([k, [o, n]]) => ['changed', k, o, n])
  ];
  return (
    <section className="jp-mlm-section">
      <h3>
        {props.title}{' '}
        <span className="jp-mlm-muted">({rows.length} differ)</span>
      </h3>
      {rows.length === 0 ? (
        <div className="jp-mlm-muted">no differences</div>
      ) : (
        <table className="jp-mlm-kv jp-mlm-keyed">
          <tbody>
            {rows.map(([kind, key, old, now]) => (
              <tr key={`${kind}-${key}`} className={`jp-mlm-diff-${kind}`}>
                <th>{key}</th>
                <td>
                  <code>{old}</code>
                </td>
                <td>→</td>
                <td>
                  <code>{now}</code>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

/** Charts of every metric the runs share, one line per run. */
function OverlaidCharts(props: { model: MLMModel; runs: IRun[] }): JSX.Element {
  const { model, runs } = props;
  const [charts, setCharts] = useState<{ key: string; series: ISeries[] }[]>(
    []
  );
  useEffect(() => {
    const keys = Object.keys(runs[0]?.metrics ?? {}).filter(key =>
      runs.every(run => key in run.metrics)
    );
    void Promise.all(
      keys.map(async key => ({
        key,
        series: await Promise.all(
          runs.map(async run => {
            const s = await model.getMetric(run.id, key, 400);
            return {
              label: run.name,
              steps: s.steps,
              values: s.values.map(toNumber),
              timestamps: s.timestamps
            };
          })
        )
      }))
    ).then(all =>
      // A chart answers "how did it move"; single values are read in the table above.
      setCharts(all.filter(chart => chart.series.some(s => s.steps.length > 1)))
    );
  }, [runs.map(r => r.id).join(',')]);
  if (charts.length === 0) {
    return (
      <p className="jp-mlm-muted jp-mlm-no-charts">
        Every shared metric has one value per run: compared in the table above.
      </p>
    );
  }
  return (
    <div className="jp-mlm-charts">
      {charts.map(chart => (
        <LineChart key={chart.key} title={chart.key} series={chart.series} />
      ))}
    </div>
  );
}

/** Params and metrics of several runs side by side; differing params highlighted. */
function SideBySide(props: { runs: IRun[] }): JSX.Element {
  const { runs } = props;
  const params = [...new Set(runs.flatMap(r => Object.keys(r.params)))].sort();
  const metrics = [
    ...new Set(runs.flatMap(r => Object.keys(r.metrics)))
  ].sort();
  return (
    <table className="jp-mlm-kv jp-mlm-side-by-side">
      <thead>
        <tr>
          <th />
          {runs.map(run => (
            <th key={run.id}>{run.name}</th>
          ))}
        </tr>
      </thead>
      <tbody>
        {params.map(key => {
          const values = runs.map(r => r.params[key] ?? '');
          const differs = new Set(values).size > 1;
          return (
            <tr
              key={`p-${key}`}
              className={differs ? 'jp-mlm-diff-changed' : ''}
            >
              <th>params.{key}</th>
              {values.map((v, i) => (
                <td key={i}>
                  <code>{v}</code>
                </td>
              ))}
            </tr>
          );
        })}
        {metrics.map(key => (
          <tr key={`m-${key}`}>
            <th>metrics.{key}</th>
            {runs.map(run => (
              <td key={run.id}>
                {run.metrics[key]
                  ? formatNumber(toNumber(run.metrics[key].value))
                  : ''}
              </td>
            ))}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function CompareView(props: {
  model: MLMModel;
  runs: IRun[];
  onDiff: (diff: IRunDiff) => void;
}): JSX.Element {
  const { model, runs, onDiff } = props;
  const [diff, setDiff] = useState<IRunDiff | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    if (runs.length === 2) {
      model
        .getDiff(runs[0].id, runs[1].id)
        .then(result => {
          setDiff(result);
          onDiff(result);
        })
        .catch(err => setError(messageOf(err)));
    }
  }, [runs.map(r => r.id).join(',')]);

  return (
    <div className="jp-mlm-detail jp-mlm-compare">
      <header className="jp-mlm-detail-header">
        <h2>Compare {runs.map(r => r.name).join(' · ')}</h2>
      </header>
      {error !== null && (
        <div className="jp-mlm-error" role="alert">
          {error}
        </div>
      )}
      <section className="jp-mlm-section">
        <h3>Params and metrics</h3>
        <SideBySide runs={runs} />
      </section>
      <section className="jp-mlm-section">
        <h3>Metrics over steps</h3>
        <OverlaidCharts model={model} runs={runs} />
      </section>
      {runs.length === 2 && diff && (
        <>
          <section className="jp-mlm-section">
            <h3>Metric changes</h3>
            <table className="jp-mlm-kv jp-mlm-metric-diff">
              <tbody>
                {diff.metrics.map(m => (
                  <tr
                    key={m.key}
                    className={m.verdict ? `jp-mlm-verdict-${m.verdict}` : ''}
                  >
                    <th>{m.key}</th>
                    <td>{m.a === null ? '—' : formatNumber(m.a)}</td>
                    <td>→</td>
                    <td>{m.b === null ? '—' : formatNumber(m.b)}</td>
                    <td>
                      {m.delta === null
                        ? ''
                        : `Δ ${m.delta > 0 ? '+' : ''}${formatNumber(m.delta)}`}
                    </td>
                    <td>{m.verdict ?? ''}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </section>
          <KeyedChanges title="Params" diff={diff.params} />
          <KeyedChanges title="Tags" diff={diff.tags} />
          <KeyedChanges title="Packages" diff={diff.environment.packages} />
          <section className="jp-mlm-section">
            <h3>Data</h3>
            {[
              ...(diff.data.added ?? []).map(p => `+ ${p}`),
              ...(diff.data.removed ?? []).map(p => `- ${p}`),
              ...(diff.data.changed ?? []).map(d => `~ ${d.path}`)
            ].map(line => (
              <div key={line} className="jp-mlm-data-change">
                <code>{line}</code>
              </div>
            ))}
            {!diff.data.added?.length &&
              !diff.data.removed?.length &&
              !diff.data.changed?.length && (
                <div className="jp-mlm-muted">no differences</div>
              )}
          </section>
          <section className="jp-mlm-section">
            <h3>
              Notebook{' '}
              {diff.notebook ? (
                <span className="jp-mlm-muted">
                  ({diff.notebook.summary.changed} changed,{' '}
                  {diff.notebook.summary.added} added,{' '}
                  {diff.notebook.summary.removed} removed)
                </span>
              ) : (
                <span className="jp-mlm-muted">
                  (not captured in both runs)
                </span>
              )}
            </h3>
          </section>
        </>
      )}
      {runs.length === 2 && !diff && error === null && (
        <div className="jp-mlm-muted">Computing the diff…</div>
      )}
    </div>
  );
}
