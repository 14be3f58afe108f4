import React, { useEffect, useState } from 'react';

import { formatBytes, formatDuration, formatTime } from '../format';
import { messageOf, MLMModel } from '../model';
import { IMetricSeries, IRun, toNumber } from '../tokens';
import { LineChart } from './LineChart';
import { StatusBadge } from './StatusBadge';

export interface IRunDetailProps {
  model: MLMModel;
  runId: string;
}

function KeyValues(props: {
  title: string;
  values: Record<string, string>;
}): JSX.Element | null {
  const entries = Object.entries(props.values);
  return (
    <section className="jp-mlm-section">
      <h3>
        {props.title} <span className="jp-mlm-muted">({entries.length})</span>
      </h3>
      {entries.length === 0 ? (
        <div className="jp-mlm-muted">none</div>
      ) : (
        <table className="jp-mlm-kv">
          <tbody>
            {entries.map(([key, value]) => (
              <tr key={key}>
                <th>{key}</th>
                <td>
                  <code>{value}</code>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

/**
 * One run: header, params, tags, a chart per metric, and artifacts to download.
 * Re-reads itself every few seconds while the run is still running.
 */
export function RunDetail(props: IRunDetailProps): JSX.Element {
  const { model, runId } = props;
  const [run, setRun] = useState<IRun | null>(null);
  const [series, setSeries] = useState<IMetricSeries[]>([]);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    let cancelled = false;
    let timer: number | null = null;
    const load = async (): Promise<void> => {
      try {
        const loaded = await model.getRun(runId);
        const metrics = await Promise.all(
          Object.keys(loaded.metrics).map(key =>
            model.getMetric(loaded.id, key)
          )
        );
        if (cancelled) {
          return;
        }
        setRun(loaded);
        setSeries(metrics);
        setError(null);
        if (loaded.status === 'running') {
          timer = window.setTimeout(load, 2000);
        }
      } catch (err) {
        if (!cancelled) {
          setError(messageOf(err));
        }
      }
    };
    void load();
    return () => {
      cancelled = true;
      if (timer !== null) {
        window.clearTimeout(timer);
      }
    };
  }, [runId]);

  const download = async (path: string): Promise<void> => {
    try {
      const blob = await model.downloadArtifact(runId, path);
      const url = URL.createObjectURL(blob);
      const link = document.createElement('a');
      link.href = url;
      link.download = path.split('/').pop() ?? path;
      link.click();
      URL.revokeObjectURL(url);
    } catch (err) {
      setError(messageOf(err));
    }
  };

  if (error !== null && run === null) {
    return (
      <div className="jp-mlm-detail">
        <div className="jp-mlm-error" role="alert">
          {error}
        </div>
      </div>
    );
  }
  if (run === null) {
    return <div className="jp-mlm-detail jp-mlm-muted">Loading run…</div>;
  }
  return (
    <div className="jp-mlm-detail">
      <header className="jp-mlm-detail-header">
        <h2>
          {run.name} <StatusBadge status={run.status} />
        </h2>
        <div className="jp-mlm-muted">
          run <code>{run.id.slice(0, 8)}</code> · experiment {run.experiment} ·
          started {formatTime(run.start_ms)} ·{' '}
          {formatDuration(run.start_ms, run.end_ms)} · {run.user}@{run.host}
          {run.notebook_path ? ` · ${run.notebook_path}` : ''}
        </div>
      </header>
      {error !== null && (
        <div className="jp-mlm-error" role="alert">
          {error}
        </div>
      )}
      <div className="jp-mlm-columns">
        <KeyValues title="Params" values={run.params} />
        <KeyValues title="Tags" values={run.tags} />
      </div>
      <section className="jp-mlm-section">
        <h3>
          Metrics{' '}
          <span className="jp-mlm-muted">
            ({Object.keys(run.metrics).length})
          </span>
        </h3>
        <div className="jp-mlm-charts">
          {series.map(s => (
            <LineChart
              key={s.key}
              title={`${s.key} (${s.total} points)`}
              series={[
                {
                  label: run.name,
                  steps: s.steps,
                  values: s.values.map(toNumber)
                }
              ]}
            />
          ))}
        </div>
      </section>
      <section className="jp-mlm-section">
        <h3>
          Artifacts{' '}
          <span className="jp-mlm-muted">({run.artifacts.length})</span>
        </h3>
        {run.artifacts.length === 0 ? (
          <div className="jp-mlm-muted">none</div>
        ) : (
          <table className="jp-mlm-kv jp-mlm-artifacts">
            <tbody>
              {run.artifacts.map(artifact => (
                <tr key={artifact.path}>
                  <th>{artifact.path}</th>
                  <td>{formatBytes(artifact.size)}</td>
                  <td>
                    <button
                      className="jp-mlm-button jp-mod-styled"
                      onClick={() => void download(artifact.path)}
                    >
                      Download
                    </button>
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
