import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import React, { useEffect, useState } from 'react';

import {
  formatBytes,
  formatDuration,
  formatNumber,
  formatTime,
  plural
} from '../format';
import { messageOf, MLMModel } from '../model';
import {
  IDataCheck,
  INotebookContent,
  IRun,
  ISnapshot,
  toNumber
} from '../tokens';
import { DataView } from './DataView';
import { SourcesView } from './SourcesView';
import { EnvironmentView } from './EnvironmentView';
import { LineChart } from './LineChart';
import { NotebookView } from './NotebookView';
import { AddTag, RunActions, RunNote } from './RunHousekeeping';
import { ArtifactPreview, previewKind } from './ArtifactPreview';
import { outputCount, RunOutput } from './RunOutput';
import { RunState } from '../runstate';

/** Metrics the kernel logs about itself (jupyter_mlm.tracking.system). */
const SYSTEM = 'system/';
/** The tag naming the exception that failed a run (jupyter_mlm.tracking.console). */
const EXCEPTION_TAG = 'mlm.exception';
import { StatusBadge } from './StatusBadge';

export interface IRunDetailProps {
  model: MLMModel;
  runId: string;
  rendermime: IRenderMimeRegistry | null;
  onRestore: (run: IRun, notebook: INotebookContent) => Promise<string>;
  onOpenRun?: (id: string, name: string) => void;
  /** Told the run's name whenever it is first known or changes (a rename here or elsewhere). */
  onName?: (name: string) => void;
}

// Longer lists of params or tags start collapsed, with a search box.
const COLLAPSED_ENTRIES = 12;
// Values longer than this show their first lines until clicked.
const CLAMPED_CHARS = 160;

const NO_SNAPSHOT =
  'This run has no snapshot: it was logged with capture off, or outside a notebook (a script, a job).';

type Tab =
  'overview' | 'output' | 'notebook' | 'environment' | 'data' | 'sources';

function KeyValues(props: {
  title: string;
  values: Record<string, string>;
  onRemove?: (key: string) => void;
  footer?: React.ReactNode;
}): JSX.Element | null {
  const [search, setSearch] = useState('');
  const [expanded, setExpanded] = useState(false);
  const [opened, setOpened] = useState<Set<string>>(new Set());
  const entries = Object.entries(props.values);
  const wanted = search.trim().toLowerCase();
  const matching = wanted
    ? entries.filter(
        ([key, value]) =>
          key.toLowerCase().includes(wanted) ||
          value.toLowerCase().includes(wanted)
      )
    : entries;
  const long = entries.length > COLLAPSED_ENTRIES;
  const shown =
    expanded || wanted ? matching : matching.slice(0, COLLAPSED_ENTRIES);
  return (
    <section
      className="jp-mlm-section jp-mlm-keyvalues"
      data-title={props.title.toLowerCase()}
    >
      <h3>
        {props.title} <span className="jp-mlm-muted">({entries.length})</span>
      </h3>
      {long && (
        <input
          className="jp-mlm-kv-search jp-mod-styled"
          placeholder={`Search ${entries.length} ${props.title.toLowerCase()}`}
          aria-label={`Search ${props.title.toLowerCase()}`}
          value={search}
          onChange={event => setSearch(event.target.value)}
        />
      )}
      {entries.length === 0 ? (
        <div className="jp-mlm-muted">none</div>
      ) : (
        <table className="jp-mlm-kv">
          <tbody>
            {shown.map(([key, value]) => {
              const clamped =
                value.length > CLAMPED_CHARS && !opened.has(key) && !wanted;
              return (
                <tr key={key}>
                  <th>{key}</th>
                  <td>
                    <code
                      className={clamped ? 'jp-mlm-clamped' : undefined}
                      title={clamped ? 'Click to show all of it' : undefined}
                      onClick={() =>
                        value.length > CLAMPED_CHARS &&
                        setOpened(new Set(opened).add(key))
                      }
                    >
                      {value}
                    </code>
                  </td>
                  {props.onRemove && (
                    <td className="jp-mlm-kv-remove">
                      <button
                        className="jp-mlm-link jp-mlm-remove-tag"
                        aria-label={`Remove ${key}`}
                        title={`Remove ${key}`}
                        onClick={() => props.onRemove?.(key)}
                      >
                        ×
                      </button>
                    </td>
                  )}
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      {long && !wanted && (
        <button
          className="jp-mlm-link jp-mlm-kv-more"
          onClick={() => setExpanded(!expanded)}
        >
          {expanded
            ? 'Show fewer'
            : `Show all ${entries.length} (${entries.length - COLLAPSED_ENTRIES} more)`}
        </button>
      )}
      {wanted && matching.length === 0 && (
        <div className="jp-mlm-muted">no match</div>
      )}
      {props.footer}
    </section>
  );
}

/**
 * One run: header, params, tags, a chart per metric, and artifacts to download.
 * Re-reads itself every few seconds while the run is still running.
 */
export function RunDetail(props: IRunDetailProps): JSX.Element {
  const { model, runId, rendermime, onRestore, onOpenRun } = props;
  const [state] = useState(() => new RunState(model, runId));
  const [, rendered] = useState(0);
  useEffect(() => {
    const update = (): void => rendered(n => n + 1);
    state.changed.connect(update);
    return () => {
      state.changed.disconnect(update);
      state.dispose();
    };
  }, [state]);
  const run = state.run;
  const series = state.series;
  useEffect(() => {
    if (run?.name) {
      props.onName?.(run.name);
    }
  }, [run?.name]);
  const [actionError, setError] = useState<string | null>(null);
  const error = actionError ?? state.error;
  const [tab, setTab] = useState<Tab>('overview');
  const [snapshot, setSnapshot] = useState<ISnapshot | null>(null);
  const [snapshotError, setSnapshotError] = useState<string | null>(null);
  const [notebook, setNotebook] = useState<INotebookContent | null>(null);
  const [check, setCheck] = useState<IDataCheck | null>(null);
  const [notice, setNotice] = useState<string | null>(null);

  const [previewing, setPreviewing] = useState<Set<string>>(new Set());
  const togglePreview = (path: string): void =>
    setPreviewing(current => {
      const next = new Set(current);
      if (!next.delete(path)) {
        next.add(path);
      }
      return next;
    });
  const edited = (updated: IRun | null, message?: string): void => {
    if (updated) {
      state.update(updated);
    } else {
      void state.reload();
    }
    setNotice(message ?? null);
    setError(null);
  };

  // Older servers do not count snapshots: ask for one then.
  const hasSnapshot = run === null ? null : (run.snapshots ?? 1) > 0;
  const hasNotebook =
    hasSnapshot === true && snapshot !== null && snapshot.notebook !== null;

  useEffect(() => {
    if (hasSnapshot !== true) {
      return;
    }
    model
      .getSnapshot(runId)
      .then(setSnapshot)
      .catch(err => setSnapshotError(messageOf(err)));
  }, [runId, run?.status, hasSnapshot]);

  useEffect(() => {
    if (tab === 'notebook' && notebook === null && hasNotebook) {
      model
        .getSnapshotNotebook(runId)
        .then(setNotebook)
        .catch(err => setSnapshotError(messageOf(err)));
    }
    if (tab === 'data' && check === null && hasSnapshot === true) {
      model
        .checkData(runId)
        .then(setCheck)
        .catch(err => setSnapshotError(messageOf(err)));
    }
  }, [tab, runId, hasNotebook, hasSnapshot]);

  const restore = async (): Promise<void> => {
    if (!run) {
      return;
    }
    try {
      const content = notebook ?? (await model.getSnapshotNotebook(runId));
      const path = await onRestore(run, content);
      setNotice(`Restored to ${path}`);
    } catch (err) {
      setError(messageOf(err));
    }
  };

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

  const renderMetrics = (
    shown: IRun,
    title: string,
    keys: string[],
    className: string
  ): JSX.Element => (
    <section className="jp-mlm-section">
      <h3>
        {title} <span className="jp-mlm-muted">({keys.length})</span>
      </h3>
      <table className={`jp-mlm-kv ${className}`}>
        <thead>
          <tr>
            <th>Metric</th>
            <th>Last</th>
            <th>Min</th>
            <th>Max</th>
            <th>At step</th>
            <th>Points</th>
          </tr>
        </thead>
        <tbody>
          {keys
            .map(key => [key, shown.metrics[key]] as const)
            .map(([key, m]) => (
              <tr key={key} data-metric={key}>
                <td>{key}</td>
                <td className="jp-mlm-num">
                  {formatNumber(toNumber(m.value))}
                </td>
                {(() => {
                  // The series keeps each bucket's extremes: its min and max are exact.
                  const values = (
                    series.find(s => s.key === key)?.values ?? [m.value]
                  )
                    .map(toNumber)
                    .filter(v => !Number.isNaN(v));
                  return values.length === 0 ? (
                    <>
                      <td className="jp-mlm-num" />
                      <td className="jp-mlm-num" />
                    </>
                  ) : (
                    <>
                      <td className="jp-mlm-num jp-mlm-metric-min">
                        {formatNumber(Math.min(...values))}
                      </td>
                      <td className="jp-mlm-num jp-mlm-metric-max">
                        {formatNumber(Math.max(...values))}
                      </td>
                    </>
                  );
                })()}
                <td className="jp-mlm-num">{m.step}</td>
                <td className="jp-mlm-num">
                  {(
                    series.find(s => s.key === key)?.total ??
                    m.count ??
                    1
                  ).toLocaleString()}
                </td>
              </tr>
            ))}
        </tbody>
      </table>
      <div className="jp-mlm-charts">
        {/* A chart answers "how did it move"; a single value is read in the table. */}
        {series
          .filter(s => s.total > 1 && keys.includes(s.key))
          .map(s => (
            <LineChart
              key={s.key}
              title={`${s.key} (${plural(s.total, 'point')})`}
              series={[
                {
                  label: shown.name,
                  steps: s.steps,
                  values: s.values.map(toNumber),
                  timestamps: s.timestamps
                }
              ]}
            />
          ))}
      </div>
    </section>
  );

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
          {formatDuration(run.start_ms, run.end_ms)}
          {run.user || run.host
            ? ` · ${run.user}${run.host ? `@${run.host}` : ''}`
            : ''}
          {run.notebook_path ? ` · ${run.notebook_path}` : ''}
          {run.parent && (
            <>
              {' · nested in '}
              <button
                className="jp-mlm-link jp-mlm-parent-link"
                title={`Open the parent run ${run.parent.name}`}
                onClick={() => onOpenRun?.(run.parent!.id, run.parent!.name)}
              >
                {run.parent.name}
              </button>
            </>
          )}
        </div>
      </header>
      <RunActions
        model={model}
        run={run}
        onChanged={edited}
        onError={setError}
      />
      {error !== null && (
        <div className="jp-mlm-error" role="alert">
          {error}
        </div>
      )}
      {notice !== null && <div className="jp-mlm-notice">{notice}</div>}
      {snapshot?.out_of_order && (
        <div className="jp-mlm-warning" role="alert">
          <b>This notebook may not be what produced the results.</b>
          <ul>
            {snapshot.out_of_order_reasons.map(reason => (
              <li key={reason}>{reason}</li>
            ))}
          </ul>
        </div>
      )}
      <div className="jp-mlm-tabs jp-mlm-detail-tabs" role="tablist">
        {(
          [
            ['overview', 'Overview'],
            ['output', `Output (${outputCount(run)})`],
            ['notebook', 'Notebook'],
            ['environment', 'Environment'],
            ['data', `Data (${snapshot?.data.length ?? 0})`],
            ['sources', `Sources (${snapshot?.sources?.length ?? 0})`]
          ] as [Tab, string][]
        ).map(([id, label]) => (
          <button
            key={id}
            role="tab"
            aria-selected={tab === id}
            className={`jp-mlm-tab${tab === id ? ' jp-mod-active' : ''}`}
            onClick={() => setTab(id)}
          >
            {label}
          </button>
        ))}
        <span className="jp-mlm-spacer" />
        <button
          className="jp-mlm-button jp-mod-styled jp-mlm-restore"
          onClick={() => void restore()}
          disabled={!hasNotebook}
          title={
            hasSnapshot === false
              ? NO_SNAPSHOT
              : hasNotebook
                ? "Write this run's notebook next to the others and open it"
                : 'The snapshot holds no notebook to restore'
          }
        >
          Restore notebook
        </button>
      </div>
      {tab !== 'overview' && snapshotError !== null && (
        <div className="jp-mlm-error" role="alert">
          {snapshotError}
        </div>
      )}
      {tab !== 'overview' && hasSnapshot === false && (
        <div className="jp-mlm-muted jp-mlm-no-snapshot">{NO_SNAPSHOT}</div>
      )}
      {tab === 'notebook' &&
        hasSnapshot === true &&
        snapshot !== null &&
        !hasNotebook && (
          <div className="jp-mlm-muted jp-mlm-no-snapshot">
            This run&apos;s snapshot holds no notebook (it ran outside one); its
            environment, data and sources are in the other tabs.
          </div>
        )}
      {tab === 'notebook' &&
        (hasNotebook || (hasSnapshot === true && snapshot === null)) &&
        (notebook && rendermime ? (
          <NotebookView notebook={notebook} rendermime={rendermime} />
        ) : (
          <div className="jp-mlm-muted">Loading notebook…</div>
        ))}
      {tab === 'environment' &&
        hasSnapshot === true &&
        (snapshot ? (
          <EnvironmentView environment={snapshot.environment} />
        ) : (
          <div className="jp-mlm-muted">Loading…</div>
        ))}
      {tab === 'data' && snapshot && (
        <DataView data={snapshot.data} check={check} />
      )}
      {tab === 'sources' && snapshot && (
        <SourcesView
          snapshot={{
            ...snapshot,
            sources: snapshot.sources ?? [],
            repositories: snapshot.repositories ?? []
          }}
          load={index => model.getSourceFile(runId, index)}
        />
      )}
      {tab === 'output' && <RunOutput model={model} run={run} />}
      {tab === 'overview' && (
        <>
          {run.tags[EXCEPTION_TAG] && (
            <div className="jp-mlm-error jp-mlm-run-exception" role="alert">
              Failed with <code>{run.tags[EXCEPTION_TAG]}</code>{' '}
              <button className="jp-mlm-link" onClick={() => setTab('output')}>
                see the traceback and output
              </button>
            </div>
          )}
          <div className="jp-mlm-columns">
            <KeyValues title="Params" values={run.params} />
            <KeyValues
              title="Tags"
              values={run.tags}
              onRemove={key =>
                void model
                  .editRun(run.id, { delete_tags: [key] })
                  .then(updated => edited(updated))
                  .catch(err => setError(messageOf(err)))
              }
              footer={
                <AddTag
                  onAdd={async (key, value) => {
                    try {
                      edited(
                        await model.editRun(run.id, { tags: { [key]: value } })
                      );
                    } catch (err) {
                      setError(messageOf(err));
                    }
                  }}
                />
              }
            />
          </div>
          <RunNote
            model={model}
            run={run}
            rendermime={rendermime}
            onChanged={updated => edited(updated)}
            onError={setError}
          />
          {renderMetrics(
            run,
            'Metrics',
            Object.keys(run.metrics).filter(k => !k.startsWith(SYSTEM)),
            'jp-mlm-metrics-table'
          )}
          {Object.keys(run.metrics).some(k => k.startsWith(SYSTEM)) &&
            renderMetrics(
              run,
              'System',
              Object.keys(run.metrics).filter(k => k.startsWith(SYSTEM)),
              'jp-mlm-metrics-table jp-mlm-system-table'
            )}
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
                    <React.Fragment key={artifact.path}>
                      <tr data-artifact={artifact.path}>
                        <th>{artifact.path}</th>
                        <td>{formatBytes(artifact.size)}</td>
                        <td>
                          {previewKind(artifact.path) !== null && (
                            <button
                              className="jp-mlm-button jp-mod-styled jp-mlm-preview-button"
                              aria-expanded={previewing.has(artifact.path)}
                              onClick={() => togglePreview(artifact.path)}
                            >
                              {previewing.has(artifact.path)
                                ? 'Hide'
                                : 'Preview'}
                            </button>
                          )}
                          <button
                            className="jp-mlm-button jp-mod-styled"
                            onClick={() => void download(artifact.path)}
                          >
                            Download
                          </button>
                        </td>
                      </tr>
                      {previewing.has(artifact.path) && (
                        <tr className="jp-mlm-preview-row">
                          <td colSpan={3}>
                            <ArtifactPreview
                              model={model}
                              runId={run.id}
                              path={artifact.path}
                              size={artifact.size}
                            />
                          </td>
                        </tr>
                      )}
                    </React.Fragment>
                  ))}
                </tbody>
              </table>
            )}
          </section>
        </>
      )}
    </div>
  );
}
