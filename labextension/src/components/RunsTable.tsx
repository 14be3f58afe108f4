import React, { useEffect, useRef, useState } from 'react';

import {
  formatDuration,
  formatNumber,
  formatShortTime,
  formatTime,
  plural
} from '../format';
import { IColumnChoice, ISort, MLMModel } from '../model';
import { IRun, toNumber } from '../tokens';
import { FilterInput } from './FilterInput';
import { RunsPlots } from './RunsPlots';
import { StatusBadge } from './StatusBadge';

export const ROW_HEIGHT = 26;
const OVERSCAN = 10;

interface IColumn {
  id: string;
  title: string;
  width: number;
  sortField: string | null;
  render: (run: IRun) => React.ReactNode;
}

const BASE_COLUMNS: IColumn[] = [
  {
    id: 'name',
    title: 'Name',
    width: 150,
    sortField: 'name',
    render: run => run.name
  },
  {
    id: 'status',
    title: 'Status',
    width: 80,
    sortField: 'status',
    render: run => <StatusBadge status={run.status} />
  },
  {
    id: 'experiment',
    title: 'Experiment',
    width: 110,
    sortField: 'experiment',
    render: run => run.experiment
  },
  {
    id: 'start',
    title: 'Start',
    width: 120,
    sortField: 'start',
    render: run => (
      <span title={formatTime(run.start_ms)}>
        {formatShortTime(run.start_ms)}
      </span>
    )
  },
  {
    id: 'duration',
    title: 'Duration',
    width: 80,
    sortField: 'duration',
    render: run => formatDuration(run.start_ms, run.end_ms)
  }
];

function keyColumns(kind: 'params' | 'metrics', keys: string[]): IColumn[] {
  return keys.map(key => ({
    id: `${kind}.${key}`,
    title: key,
    width: 90,
    sortField: `${kind}.${key}`,
    render: (run: IRun) => {
      if (kind === 'params') {
        return run.params[key] ?? '';
      }
      const metric = run.metrics[key];
      return metric === undefined ? '' : formatNumber(toNumber(metric.value));
    }
  }));
}

/** Runs read to decide which keys differ (the first of the query, in its order). */
const DIFFERENCE_RUNS = 1000;

/**
 * Every param and metric whose value is not the same in all of the query's first runs (a run
 * without the key counts as a value): what tells a sweep's runs apart.
 */
function differingKeys(model: MLMModel, known: IColumnChoice): IColumnChoice {
  const runs = model.loadedRuns(DIFFERENCE_RUNS);
  const differs = (read: (run: IRun) => string): boolean =>
    new Set(runs.map(read)).size > 1;
  return {
    params: known.params.filter(key =>
      differs(run => run.params[key] ?? '\u0000')
    ),
    metrics: known.metrics.filter(key =>
      differs(run => {
        const metric = run.metrics[key];
        return metric === undefined ? '\u0000' : String(toNumber(metric.value));
      })
    )
  };
}

export interface IRunsTableProps {
  model: MLMModel;
  onOpen: (run: IRun) => void;
  onCompare: (runs: IRun[]) => void;
  /** In the main area: room for plots over the runs. */
  wide?: boolean;
}

/**
 * The runs table: only the rows in view are rendered (and fetched, a page at a time), so ten
 * thousand runs scroll as smoothly as ten.
 */
export function RunsTable(props: IRunsTableProps): JSX.Element {
  const { model, onOpen, onCompare } = props;
  const [scrollTop, setScrollTop] = useState(0);
  const [height, setHeight] = useState(400);
  const [filterText, setFilterText] = useState(model.filter);
  // The sidebar and the expanded table share one query: either one's filter shows in both.
  useEffect(() => setFilterText(model.filter), [model.filter]);
  const [chooserOpen, setChooserOpen] = useState(false);
  const [plotsOpen, setPlotsOpen] = useState(false);
  const [differencesOnly, setDifferencesOnly] = useState(false);
  const body = useRef<HTMLDivElement>(null);

  useEffect(() => {
    const element = body.current;
    if (!element) {
      return;
    }
    const observer = new ResizeObserver(() => setHeight(element.clientHeight));
    observer.observe(element);
    return () => observer.disconnect();
  }, []);

  const first = Math.max(0, Math.floor(scrollTop / ROW_HEIGHT) - OVERSCAN);
  const last = Math.min(
    model.total,
    Math.ceil((scrollTop + height) / ROW_HEIGHT) + OVERSCAN
  );
  useEffect(() => {
    void model.ensureRows(first, Math.max(last, first + 1));
  }, [first, last, model.total, model.filter, model.sort, model.experiment]);

  const known = model.knownKeys();
  const saved = model.columns();
  const chosen = differencesOnly ? differingKeys(model, known) : saved;
  const names = model.nameCounts();
  const nameColumn: IColumn = {
    ...BASE_COLUMNS[0],
    render: run =>
      (names.get(run.name) ?? 0) > 1 ? (
        <>
          {run.name}{' '}
          <span className="jp-mlm-muted jp-mlm-run-id">
            {run.id.slice(0, 8)}
          </span>
        </>
      ) : (
        run.name
      )
  };
  const selectColumn: IColumn = {
    id: 'select',
    title: '',
    width: 28,
    sortField: null,
    render: run => (
      <input
        type="checkbox"
        className="jp-mlm-select"
        aria-label={`Select ${run.name} to compare`}
        checked={model.isSelected(run.id)}
        onClick={event => event.stopPropagation()}
        onChange={() => model.toggleSelected(run)}
      />
    )
  };
  const allColumns = [
    selectColumn,
    nameColumn,
    ...BASE_COLUMNS.slice(1),
    ...keyColumns('params', chosen.params),
    ...keyColumns('metrics', chosen.metrics)
  ];
  const width = allColumns.reduce((sum, c) => sum + c.width, 0);

  const toggleSort = (field: string): void => {
    const sort: ISort =
      model.sort.field === field
        ? { field, descending: !model.sort.descending }
        : { field, descending: field === 'start' };
    model.setQuery({ sort });
  };

  const toggleKey = (kind: 'params' | 'metrics', key: string): void => {
    const current: IColumnChoice = { ...saved };
    current[kind] = current[kind].includes(key)
      ? current[kind].filter(k => k !== key)
      : [...current[kind], key];
    model.setColumns(current);
  };
  const sortTitle =
    allColumns.find(c => c.sortField === model.sort.field)?.title ??
    model.sort.field.replace(/^(params|metrics|tags)\./, '');

  const rows: JSX.Element[] = [];
  for (let index = first; index < last; index++) {
    const run = model.runAt(index);
    rows.push(
      <div
        key={run ? run.id : `loading-${index}`}
        className="jp-mlm-row"
        role="row"
        style={{ top: index * ROW_HEIGHT, height: ROW_HEIGHT, width }}
        onClick={() => run && onOpen(run)}
        title={run ? `Open run ${run.name}` : undefined}
        data-run-id={run?.id}
      >
        {allColumns.map(column => (
          <div
            key={column.id}
            className="jp-mlm-cell"
            role="cell"
            style={{ width: column.width }}
          >
            {run ? column.render(run) : index === first ? 'Loading…' : ''}
          </div>
        ))}
      </div>
    );
  }

  return (
    <div className="jp-mlm-runs">
      <div className="jp-mlm-toolbar">
        <FilterInput
          value={filterText}
          onChange={setFilterText}
          onApply={filter => model.setQuery({ filter })}
          keys={known}
        />
      </div>
      <div className="jp-mlm-toolbar">
        <select
          className="jp-mlm-experiment jp-mod-styled"
          value={model.experiment}
          onChange={event => model.setQuery({ experiment: event.target.value })}
          aria-label="Experiment"
        >
          <option value="">All experiments</option>
          {model.experiments.map(name => (
            <option key={name} value={name}>
              {name}
            </option>
          ))}
        </select>
        <button
          className="jp-mlm-button jp-mod-styled"
          onClick={() => setChooserOpen(!chooserOpen)}
          aria-expanded={chooserOpen}
        >
          Columns
        </button>
        <button
          className="jp-mlm-button jp-mod-styled jp-mlm-export-csv"
          title="Download these runs (filter, experiment and sort as shown) as CSV"
          onClick={() =>
            void model.exportCsv().then(blob => {
              const url = URL.createObjectURL(blob);
              const link = document.createElement('a');
              link.href = url;
              link.download = 'runs.csv';
              link.click();
              URL.revokeObjectURL(url);
            })
          }
        >
          CSV
        </button>
        <label
          className="jp-mlm-differences-only"
          title="Columns for every param and metric that differs among these runs, and only those"
        >
          <input
            type="checkbox"
            checked={differencesOnly}
            onChange={event => setDifferencesOnly(event.target.checked)}
          />
          differences
        </label>
        <label
          className="jp-mlm-show-deleted"
          title="List the deleted runs (restorable until purged) instead"
        >
          <input
            type="checkbox"
            checked={model.showDeleted}
            onChange={event =>
              model.setQuery({ deleted: event.target.checked })
            }
          />
          deleted
        </label>
        <button
          className="jp-mlm-button jp-mod-styled jp-mlm-compare-button"
          disabled={model.selected.length < 2}
          onClick={() => onCompare(model.selected)}
          title="Select two runs (or more) with the checkboxes"
        >
          Compare{model.selected.length ? ` (${model.selected.length})` : ''}
        </button>
        {props.wide && (
          <button
            className="jp-mlm-button jp-mod-styled jp-mlm-plots-button"
            onClick={() => setPlotsOpen(!plotsOpen)}
            aria-expanded={plotsOpen}
            title="Parallel coordinates and a scatter plot of these runs; brush to select"
          >
            Plots
          </button>
        )}
      </div>
      {props.wide && plotsOpen && <RunsPlots model={model} />}
      {chooserOpen && (
        <div className="jp-mlm-chooser">
          {(['params', 'metrics'] as const).map(kind => (
            <fieldset key={kind}>
              <legend>{kind}</legend>
              {known[kind].length === 0 && (
                <span className="jp-mlm-muted">none yet</span>
              )}
              {known[kind].map(key => (
                <label key={key}>
                  <input
                    type="checkbox"
                    checked={saved[kind].includes(key)}
                    onChange={() => toggleKey(kind, key)}
                  />
                  {key}
                </label>
              ))}
            </fieldset>
          ))}
        </div>
      )}
      {model.runsError !== null && (
        <div className="jp-mlm-error" role="alert">
          {model.runsError}
        </div>
      )}
      <div className="jp-mlm-query-summary">
        <span className="jp-mlm-count">
          {model.loaded ? plural(model.total, 'run') : 'Loading…'}
        </span>
        <span
          className="jp-mlm-sort-summary"
          title={`Sorted by ${model.sort.field}; click a column header to change`}
        >
          {' · sorted by '}
          {sortTitle} {model.sort.descending ? '▼' : '▲'}
        </span>
        {model.filter.trim() !== '' && (
          <>
            {' · '}
            <span className="jp-mlm-filter-summary" title={model.filter}>
              filtered
            </span>{' '}
            <button
              className="jp-mlm-link jp-mlm-clear-filter"
              onClick={() => model.setQuery({ filter: '' })}
            >
              clear
            </button>
          </>
        )}
      </div>
      {model.loaded &&
        model.total === 0 &&
        !model.filter.trim() &&
        !model.experiment &&
        !model.showDeleted &&
        model.runsError === null && (
          <div className="jp-mlm-empty">
            <p>
              <b>No runs yet.</b> Log a first one from a notebook in this
              folder:
            </p>
            <pre>
              {
                '%load_ext jupyter_mlm\n%mlm_run start baseline\n%mlm_log param lr=0.1\n%mlm_log metric auc=0.84\n%mlm_run end'
              }
            </pre>
            <p>
              or <code>import jupyter_mlm as mlm</code> and{' '}
              <code>with mlm.start_run(): …</code>. Each run keeps the notebook
              as it stood; Help ▸ Model Management Guide has the rest.
            </p>
          </div>
        )}
      <div
        className="jp-mlm-table"
        ref={body}
        onScroll={event => setScrollTop(event.currentTarget.scrollTop)}
      >
        <div className="jp-mlm-header" role="row" style={{ width }}>
          {allColumns.map(column => {
            const sorted = column.sortField === model.sort.field;
            return (
              <div
                key={column.id}
                className={`jp-mlm-cell jp-mlm-head${sorted ? ' jp-mlm-sorted' : ''}`}
                role="columnheader"
                style={{ width: column.width }}
                title={
                  column.id.includes('.')
                    ? column.id
                    : `Sort by ${column.title}`
                }
                onClick={() => column.sortField && toggleSort(column.sortField)}
              >
                {column.title}
                {sorted ? (model.sort.descending ? ' ▼' : ' ▲') : ''}
              </div>
            );
          })}
        </div>
        <div
          className="jp-mlm-rows"
          role="rowgroup"
          style={{ height: model.total * ROW_HEIGHT, width }}
        >
          {rows}
        </div>
      </div>
    </div>
  );
}
