import { InputDialog } from '@jupyterlab/apputils';
import React, { useEffect, useRef, useState } from 'react';

import {
  formatDuration,
  formatNumber,
  formatShortTime,
  formatTime,
  plural
} from '../format';
import { IColumnChoice, ISort, MLMModel } from '../model';
import { DisplayRow } from '../rowlayout';
import { IRun, IRunGroup, toNumber } from '../tokens';
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
  /** What a group's line shows in this column (the grouped value, a metric's mean). */
  summary?: (group: IRunGroup, by: string) => React.ReactNode;
}

/** Indentation per level of nesting, in pixels. */
const INDENT = 14;

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
    },
    summary: (group: IRunGroup, by: string) => {
      if (kind === 'params') {
        return by === `params.${key}` ? (group.value ?? '') : '';
      }
      return <MetricSummaryCell group={group} metric={key} />;
    }
  }));
}

/** A metric over a group: its mean, with count and range on hover. */
function MetricSummaryCell(props: {
  group: IRunGroup;
  metric: string;
}): JSX.Element | null {
  const summary = props.group.metrics[props.metric];
  if (!summary || summary.mean === null) {
    return null;
  }
  const low = formatNumber(toNumber(summary.min ?? 'NaN'));
  const high = formatNumber(toNumber(summary.max ?? 'NaN'));
  return (
    <span
      className="jp-mlm-group-mean"
      title={`mean of ${plural(summary.count, 'run')}; min ${low}, max ${high}`}
    >
      {formatNumber(toNumber(summary.mean))}
      <span className="jp-mlm-muted"> μ</span>
    </span>
  );
}

/** The fields a table can group by: fixed ones, then the result's params and tags. */
function groupFields(model: MLMModel): { value: string; label: string }[] {
  return [
    { value: 'experiment', label: 'experiment' },
    { value: 'status', label: 'status' },
    { value: 'user', label: 'user' },
    ...model.knownKeys().params.map(key => ({
      value: `params.${fieldKey(key)}`,
      label: `params.${key}`
    })),
    ...model
      .knownTags()
      .map(key => ({ value: `tags.${fieldKey(key)}`, label: `tags.${key}` }))
  ];
}

/** A key as the filter grammar reads it: in backticks when it has other characters. */
function fieldKey(key: string): string {
  return /^[A-Za-z0-9_.\-/]+$/.test(key) ? key : `\`${key}\``;
}

/** Runs read to decide which keys differ (the first of the query, in its order). */
const DIFFERENCE_RUNS = 1000;

/**
 * Every param and metric whose value is not the same in all of the query's first runs (a run
 * without the key counts as a value): what tells a sweep's runs apart.
 */
function differingKeys(
  model: MLMModel,
  known: IColumnChoice
): IColumnChoice | null {
  const runs = model.loadedRuns(DIFFERENCE_RUNS);
  if (runs.length === 0 && model.total > 0) {
    return null; // still loading: no key "differs" yet, which is not the answer
  }
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
  const resizing = useRef<{ id: string; x: number; width: number } | null>(
    null
  );

  useEffect(() => {
    const element = body.current;
    if (!element) {
      return;
    }
    const observer = new ResizeObserver(() => setHeight(element.clientHeight));
    observer.observe(element);
    return () => observer.disconnect();
  }, []);

  const rowCount = model.rowCount();
  const first = Math.max(0, Math.floor(scrollTop / ROW_HEIGHT) - OVERSCAN);
  const last = Math.min(
    rowCount,
    Math.ceil((scrollTop + height) / ROW_HEIGHT) + OVERSCAN
  );
  const lines: DisplayRow[] = [];
  for (let index = first; index < last; index++) {
    lines.push(model.rowAt(index));
  }
  // The top-level runs in view, whatever is expanded between them: the pages to fetch.
  const rootIndexes = lines.flatMap(line =>
    line.kind === 'run' && line.rootIndex !== null ? [line.rootIndex] : []
  );
  const firstRoot = rootIndexes.length ? Math.min(...rootIndexes) : 0;
  const lastRoot = rootIndexes.length ? Math.max(...rootIndexes) + 1 : 1;
  useEffect(() => {
    void model.ensureRows(firstRoot, lastRoot);
  }, [
    firstRoot,
    lastRoot,
    model.total,
    model.filter,
    model.sort,
    model.experiment
  ]);

  const known = model.knownKeys();
  const saved = model.columns();
  const chosen = (differencesOnly && differingKeys(model, known)) || saved;
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
  const plainSummary =
    (field: string) =>
    (group: IRunGroup, by: string): React.ReactNode =>
      by === field ? (group.value ?? '') : '';
  const allColumns = [
    selectColumn,
    nameColumn,
    ...BASE_COLUMNS.slice(1).map(column => ({
      ...column,
      summary: plainSummary(column.id)
    })),
    ...keyColumns('params', chosen.params),
    ...keyColumns('metrics', chosen.metrics)
  ].map(column => ({
    ...column,
    width: model.columnWidth(column.id, column.width)
  }));
  const width = allColumns.reduce((sum, c) => sum + c.width, 0);

  const startResize = (
    event: React.PointerEvent<HTMLSpanElement>,
    column: IColumn
  ): void => {
    event.preventDefault();
    event.stopPropagation();
    event.currentTarget.setPointerCapture(event.pointerId);
    resizing.current = { id: column.id, x: event.clientX, width: column.width };
  };
  const moveResize = (event: React.PointerEvent<HTMLSpanElement>): void => {
    const drag = resizing.current;
    if (drag) {
      model.setColumnWidth(drag.id, drag.width + event.clientX - drag.x, false);
    }
  };
  const endResize = (event: React.PointerEvent<HTMLSpanElement>): void => {
    const drag = resizing.current;
    if (drag) {
      resizing.current = null;
      model.setColumnWidth(drag.id, drag.width + event.clientX - drag.x);
    }
  };

  const saveView = async (): Promise<void> => {
    const answer = await InputDialog.getText({
      title: 'Save this view of the runs',
      label:
        'Name (the filter, sort, experiment, grouping and columns are kept)',
      text: model.currentView
    });
    if (answer.button.accept && answer.value && answer.value.trim()) {
      model.saveView(answer.value);
    }
  };

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

  const cells = (render: (column: IColumn) => React.ReactNode): JSX.Element[] =>
    allColumns.map(column => (
      <div
        key={column.id}
        className="jp-mlm-cell"
        role="cell"
        style={{ width: column.width }}
      >
        {render(column)}
      </div>
    ));
  const disclosure = (
    key: string,
    open: boolean,
    label: string
  ): JSX.Element => (
    <button
      className="jp-mlm-disclosure"
      aria-expanded={open}
      aria-label={`${open ? 'Collapse' : 'Expand'} ${label}`}
      onClick={event => {
        event.stopPropagation();
        model.toggleExpanded(key);
      }}
    >
      {open ? '▾' : '▸'}
    </button>
  );

  const rows = lines.map((line, offset) => {
    const index = first + offset;
    const style = { top: index * ROW_HEIGHT, height: ROW_HEIGHT, width };
    if (line.kind === 'group') {
      const { group } = line;
      const shown = group.value ?? '(none)';
      return (
        <div
          key={line.key}
          className="jp-mlm-row jp-mlm-group-row"
          role="row"
          style={style}
          data-group={group.value ?? ''}
          onClick={() => model.toggleExpanded(line.key)}
          title={`${model.groupBy} = ${shown}: ${plural(group.runs, 'run')}`}
        >
          {cells(column => {
            if (column.id === 'name') {
              return (
                <>
                  {disclosure(line.key, line.expanded, shown)}
                  <span className="jp-mlm-group-value">{shown}</span>{' '}
                  <span className="jp-mlm-muted jp-mlm-group-count">
                    {plural(group.runs, 'run')}
                  </span>
                </>
              );
            }
            return column.summary?.(group, model.groupBy) ?? '';
          })}
        </div>
      );
    }
    if (line.kind === 'note') {
      const filter = line.filter;
      return (
        <div
          key={line.key}
          className="jp-mlm-row jp-mlm-note-row"
          role="row"
          style={style}
        >
          <div
            className="jp-mlm-cell jp-mlm-muted"
            role="cell"
            style={{ paddingLeft: 6 + line.depth * INDENT + 28, width }}
          >
            {line.text}
            {filter !== undefined && (
              <>
                {' '}
                <button
                  className="jp-mlm-link jp-mlm-show-all"
                  onClick={() =>
                    model.setQuery({ filter, groupBy: '', tree: false })
                  }
                >
                  list them all
                </button>
              </>
            )}
          </div>
        </div>
      );
    }
    const { run, depth } = line;
    const hasChildren = run !== undefined && (run.children ?? 0) > 0;
    return (
      <div
        key={line.key}
        className={`jp-mlm-row${depth ? ' jp-mlm-child-row' : ''}`}
        role="row"
        style={style}
        onClick={() => run && onOpen(run)}
        title={run ? `Open run ${run.name}` : undefined}
        data-run-id={run?.id}
        data-depth={depth}
      >
        {cells(column => {
          if (!run) {
            return offset === 0 && column.id === 'name' ? 'Loading…' : '';
          }
          if (column.id !== 'name' || (!model.nested && !depth)) {
            return column.render(run);
          }
          return (
            <span
              className="jp-mlm-tree-name"
              style={{ paddingLeft: depth * INDENT }}
            >
              {hasChildren ? (
                disclosure(run.id, model.isExpanded(run.id), run.name)
              ) : (
                <span className="jp-mlm-disclosure-space" />
              )}
              {column.render(run)}
              {hasChildren && (
                <span className="jp-mlm-muted jp-mlm-child-count">
                  {' '}
                  ({run.children})
                </span>
              )}
            </span>
          );
        })}
      </div>
    );
  });

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
          className="jp-mlm-tree-toggle"
          title="Nested runs under their parents (expand a parent to see them)"
        >
          <input
            type="checkbox"
            checked={model.tree}
            onChange={event => model.setQuery({ tree: event.target.checked })}
          />
          nested
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
      <div className="jp-mlm-toolbar">
        <select
          className="jp-mlm-group-by jp-mod-styled"
          value={model.groupBy}
          onChange={event => model.setQuery({ groupBy: event.target.value })}
          aria-label="Group by"
          title="One line per value, with each metric's mean over the group"
        >
          <option value="">No grouping</option>
          {groupFields(model).map(field => (
            <option key={field.value} value={field.value}>
              Group by {field.label}
            </option>
          ))}
          {model.groupBy &&
            !groupFields(model).some(f => f.value === model.groupBy) && (
              <option value={model.groupBy}>Group by {model.groupBy}</option>
            )}
        </select>
        <select
          className="jp-mlm-views jp-mod-styled"
          value={model.currentView}
          onChange={event => model.applyView(event.target.value)}
          aria-label="Saved views"
          title="Apply a saved view: its filter, sort, experiment, grouping and columns"
        >
          <option value="">
            {model.views.length ? 'Saved views…' : 'No saved views'}
          </option>
          {model.views.map(view => (
            <option key={view.name} value={view.name}>
              {view.name}
            </option>
          ))}
        </select>
        <button
          className="jp-mlm-button jp-mod-styled jp-mlm-save-view"
          onClick={() => void saveView()}
          title="Save the filter, sort, experiment, grouping and columns under a name"
        >
          Save view
        </button>
        {model.currentView && (
          <button
            className="jp-mlm-button jp-mod-styled jp-mlm-delete-view"
            onClick={() => model.deleteView(model.currentView)}
            title={`Forget the view ${model.currentView}`}
          >
            Delete view
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
          {!model.loaded
            ? 'Loading…'
            : model.groupBy && model.groups
              ? `${plural(model.groups.length, 'group')} of ${plural(model.total, model.nested ? 'top-level run' : 'run')}`
              : plural(model.total, model.nested ? 'top-level run' : 'run')}
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
                {column.id !== 'select' && (
                  <span
                    className="jp-mlm-resize"
                    role="separator"
                    aria-orientation="vertical"
                    aria-label={`Resize ${column.title || column.id}`}
                    title="Drag to resize; double-click for the default width"
                    onPointerDown={event => startResize(event, column)}
                    onPointerMove={moveResize}
                    onPointerUp={endResize}
                    onClick={event => event.stopPropagation()}
                    onDoubleClick={event => {
                      event.stopPropagation();
                      model.setColumnWidth(column.id, null);
                    }}
                  />
                )}
              </div>
            );
          })}
        </div>
        <div
          className="jp-mlm-rows"
          role="rowgroup"
          style={{ height: rowCount * ROW_HEIGHT, width }}
        >
          {rows}
        </div>
      </div>
    </div>
  );
}
