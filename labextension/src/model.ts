/**
 * Client-side state: store status and the runs table (paged, sorted, filtered, kept live).
 * Views read from here and listen to `changed`; only this module calls requestAPI.
 */
import { IStateDB } from '@jupyterlab/statedb';
import { ReadonlyPartialJSONObject } from '@lumino/coreutils';
import { Poll } from '@lumino/polling';
import { ISignal, Signal } from '@lumino/signaling';

import { requestAPI } from './request';
import {
  childRows,
  DisplayRow,
  groupCondition,
  groupKey,
  IChildren,
  IInsertion,
  narrowed,
  treeRowAt
} from './rowlayout';
import {
  IDataCheck,
  IMetricSeries,
  INotebookContent,
  IRun,
  IRunDiff,
  IRunGroup,
  IRunGroups,
  IRunList,
  ISnapshot,
  ISourceFile,
  IStoreStatus
} from './tokens';

export const PAGE_SIZE = 200;
/**
 * Runs per request when plots read the whole query (nested runs included): a plot needs all
 * of them at once, so fewer, larger pages (1,000 runs: one request) beat the table's.
 */
const FLAT_PAGE_SIZE = 1000;
const LIVE_INTERVAL_MS = 2000;
const IDLE_INTERVAL_MS = 10000;

export interface ISort {
  field: string;
  descending: boolean;
}

/** The param and metric columns a runs table shows. */
export interface IColumnChoice {
  params: string[];
  metrics: string[];
}

const COLUMNS_STATE = 'jupyter-mlm:columns';
const VIEWS_STATE = 'jupyter-mlm:views';
const WIDTHS_STATE = 'jupyter-mlm:column-widths';
const DEFAULT_KEY_COLUMNS = 3;
/** Children of one parent (or runs of one group) listed under it; the rest by a filter. */
export const CHILD_LIMIT = 500;
/** Past this many metric keys a grouping summarises only the metric columns shown. */
const ALL_METRICS_GROUPED = 100;

/** A named table setup: the query, its grouping and nesting, and the columns. */
export interface IView {
  name: string;
  filter: string;
  sort: ISort;
  experiment: string;
  groupBy: string;
  tree: boolean;
  columns: IColumnChoice | null;
}

export class MLMModel {
  get changed(): ISignal<this, void> {
    return this._changed;
  }

  // -- store status --------------------------------------------------------------------
  get status(): IStoreStatus | null {
    return this._status;
  }

  get statusError(): string | null {
    return this._statusError;
  }

  async refreshStatus(): Promise<void> {
    try {
      this._status = await requestAPI<IStoreStatus>('status');
      this._statusError = null;
    } catch (error) {
      this._statusError = messageOf(error);
    }
    this._changed.emit();
  }

  // -- runs table ------------------------------------------------------------------------
  get total(): number {
    return this._total;
  }

  get filter(): string {
    return this._filter;
  }

  get sort(): ISort {
    return this._sort;
  }

  get experiment(): string {
    return this._experiment;
  }

  get experiments(): string[] {
    return this._experiments;
  }

  get runsError(): string | null {
    return this._runsError;
  }

  get loaded(): boolean {
    return this._loaded;
  }

  /** The run at a row index, or undefined while its page is loading. */
  runAt(index: number): IRun | undefined {
    return this._pages.get(Math.floor(index / PAGE_SIZE))?.[index % PAGE_SIZE];
  }

  /**
   * Param and metric names of the whole result, most common first (the server counts them once
   * per query); before its first page arrives, those of the rows loaded.
   */
  knownKeys(): IColumnChoice {
    if (this._keys !== null) {
      return this._keys;
    }
    const params = new Set<string>();
    const metrics = new Set<string>();
    for (const page of this._pages.values()) {
      for (const run of page) {
        Object.keys(run.params).forEach(k => params.add(k));
        Object.keys(run.metrics).forEach(k => metrics.add(k));
      }
    }
    return { params: [...params].sort(), metrics: [...metrics].sort() };
  }

  /** Tag names of the whole result, most common first (what a table can group by). */
  knownTags(): string[] {
    return this._tags;
  }

  /** The columns chosen for the current experiment, else the most common keys. */
  columns(): IColumnChoice {
    const saved = this._columns[this._experiment];
    if (saved) {
      return saved;
    }
    const known = this.knownKeys();
    return {
      params: known.params.slice(0, DEFAULT_KEY_COLUMNS),
      metrics: known.metrics.slice(0, DEFAULT_KEY_COLUMNS)
    };
  }

  /** Remember the columns for the current experiment (in JupyterLab's state, across reloads). */
  setColumns(choice: IColumnChoice): void {
    this._columns = { ...this._columns, [this._experiment]: choice };
    this._currentView = '';
    this._changed.emit();
    this._save(COLUMNS_STATE, this._columns);
    if (this._groupBy) {
      void this._loadGroups();
    }
  }

  /** Saved column choices, widths and views live in JupyterLab's state database. */
  async attachState(state: IStateDB): Promise<void> {
    this._state = state;
    const [columns, views, widths] = await Promise.all(
      [COLUMNS_STATE, VIEWS_STATE, WIDTHS_STATE].map(id => state.fetch(id))
    );
    if (columns && typeof columns === 'object') {
      this._columns = columns as unknown as Record<string, IColumnChoice>;
    }
    if (Array.isArray(views)) {
      this._views = views as unknown as IView[];
    }
    if (widths && typeof widths === 'object') {
      this._widths = widths as unknown as Record<string, number>;
    }
    this._changed.emit();
  }

  private _save(id: string, value: unknown): void {
    if (this._state) {
      void this._state.save(id, value as ReadonlyPartialJSONObject);
    }
  }

  // -- column widths ----------------------------------------------------------------------
  /** A column's width as the user dragged it, else `fallback`. */
  columnWidth(id: string, fallback: number): number {
    return this._widths[id] ?? fallback;
  }

  /** Set while dragging (`persist` false), saved when the drag ends; null resets it. */
  setColumnWidth(id: string, width: number | null, persist = true): void {
    const widths = { ...this._widths };
    if (width === null) {
      delete widths[id];
    } else {
      widths[id] = Math.round(Math.min(800, Math.max(40, width)));
    }
    this._widths = widths;
    this._changed.emit();
    if (persist) {
      this._save(WIDTHS_STATE, widths);
    }
  }

  // -- saved views ------------------------------------------------------------------------
  get views(): IView[] {
    return this._views;
  }

  /** The view last applied or saved, while the table still shows it unchanged. */
  get currentView(): string {
    return this._currentView;
  }

  /** Save what the table shows now under `name` (replacing a view of that name). */
  saveView(name: string): IView {
    const trimmed = name.trim();
    if (!trimmed) {
      throw new Error('a view needs a name');
    }
    const view: IView = {
      name: trimmed,
      filter: this._filter,
      sort: this._sort,
      experiment: this._experiment,
      groupBy: this._groupBy,
      tree: this._tree,
      columns: this._columns[this._experiment] ?? null
    };
    this._views = [...this._views.filter(v => v.name !== trimmed), view].sort(
      (a, b) => a.name.localeCompare(b.name)
    );
    this._currentView = trimmed;
    this._save(VIEWS_STATE, this._views);
    this._changed.emit();
    return view;
  }

  applyView(name: string): void {
    const view = this._views.find(v => v.name === name);
    if (!view) {
      return;
    }
    if (view.columns) {
      this._columns = { ...this._columns, [view.experiment]: view.columns };
      this._save(COLUMNS_STATE, this._columns);
    }
    this.setQuery({
      filter: view.filter,
      sort: view.sort,
      experiment: view.experiment,
      groupBy: view.groupBy,
      tree: view.tree,
      deleted: false
    });
    this._currentView = name;
    this._changed.emit();
  }

  deleteView(name: string): void {
    this._views = this._views.filter(v => v.name !== name);
    if (this._currentView === name) {
      this._currentView = '';
    }
    this._save(VIEWS_STATE, this._views);
    this._changed.emit();
  }

  /** How many loaded runs carry each name (a repeated name is shown with its id). */
  nameCounts(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const page of this._pages.values()) {
      for (const run of page) {
        counts.set(run.name, (counts.get(run.name) ?? 0) + 1);
      }
    }
    return counts;
  }

  setQuery(
    query: Partial<{
      filter: string;
      sort: ISort;
      experiment: string;
      deleted: boolean;
      /** A field to group by (experiment, status, user, params.X, tags.X); '' for none. */
      groupBy: string;
      /** Nested runs under their parents (top-level runs only, expandable). */
      tree: boolean;
    }>
  ): void {
    this._deleted = query.deleted ?? this._deleted;
    this._filter = query.filter ?? this._filter;
    this._sort = query.sort ?? this._sort;
    this._experiment = query.experiment ?? this._experiment;
    this._groupBy = query.groupBy ?? this._groupBy;
    this._tree = query.tree ?? this._tree;
    this._pages.clear();
    this._flatPages.clear();
    this._children.clear();
    this._expanded.clear();
    this._groups = null;
    this._flatTotal = null;
    this._keys = null;
    this._generation += 1;
    this._currentView = '';
    this._changed.emit(); // controls showing the query (a checkbox, the filter) follow at once
    void this.ensureRows(0, PAGE_SIZE);
    if (this._groupBy) {
      void this._loadGroups();
    }
  }

  get groupBy(): string {
    return this._groupBy;
  }

  get tree(): boolean {
    return this._tree;
  }

  /** The groups of the current query (null while they load, or when not grouping). */
  get groups(): IRunGroup[] | null {
    return this._groups;
  }

  /** How many values the grouped field has in all (only the first 1,000 are listed). */
  get groupsTotal(): number {
    return this._groupsTotal;
  }

  /** Whether the table lists top-level runs of which some have children. */
  get nested(): boolean {
    return (
      this._tree &&
      !this._groupBy &&
      [...this._pages.values()].some(page =>
        page.some(run => (run.children ?? 0) > 0)
      )
    );
  }

  isExpanded(key: string): boolean {
    return this._expanded.has(key);
  }

  /** Open or close a run's children (key: its id) or a group (key: groupKey(value)). */
  toggleExpanded(key: string): void {
    if (this._expanded.has(key)) {
      this._expanded.delete(key);
    } else {
      this._expanded.add(key);
      if (!this._children.has(key)) {
        void this._loadChildren(key);
      }
    }
    this._changed.emit();
  }

  /** How many lines the table has: runs, groups, and what is expanded below them. */
  rowCount(): number {
    if (this._groupBy) {
      return this._groupRows().length;
    }
    return (
      this._total + this._insertions().reduce((n, i) => n + i.rows.length, 0)
    );
  }

  /** The line at `index`; with neither grouping nor nesting, run `index` of the query. */
  rowAt(index: number): DisplayRow {
    if (this._groupBy) {
      return this._groupRows()[index];
    }
    return treeRowAt(index, this._insertions(), i => this.runAt(i));
  }

  private _insertions(): IInsertion[] {
    if (!this._tree || this._expanded.size === 0) {
      return [];
    }
    const insertions: IInsertion[] = [];
    for (const [page, runs] of this._pages) {
      runs.forEach((run, offset) => {
        if (this._expanded.has(run.id)) {
          insertions.push({
            rootIndex: page * PAGE_SIZE + offset,
            rows: childRows(
              run.id,
              1,
              this._children,
              this._expanded,
              this._childFilter(run.id)
            )
          });
        }
      });
    }
    return insertions.sort((a, b) => a.rootIndex - b.rootIndex);
  }

  private _groupRows(): DisplayRow[] {
    if (this._groups === null) {
      return [
        { kind: 'note', key: 'groups:loading', depth: 0, text: 'Loading…' }
      ];
    }
    const rows: DisplayRow[] = [];
    for (const group of this._groups) {
      const key = groupKey(group.value);
      const expanded = this._expanded.has(key);
      rows.push({ kind: 'group', key, group, expanded });
      if (expanded) {
        rows.push(
          ...childRows(
            key,
            1,
            this._children,
            new Set(),
            this._childFilter(key)
          )
        );
      }
    }
    if (this._groupsTotal > this._groups.length) {
      rows.push({
        kind: 'note',
        key: 'groups:more',
        depth: 0,
        text: `… ${this._groupsTotal - this._groups.length} more values (narrow the filter)`
      });
    }
    return rows;
  }

  /** The filter listing the runs under `key`: a run's children, or a group's runs. */
  private _childFilter(key: string): string {
    if (key.startsWith('group:')) {
      const group = this._groups?.find(g => groupKey(g.value) === key);
      return narrowed(
        this._filter,
        groupCondition(this._groupBy, group ? group.value : null)
      );
    }
    return narrowed(this._filter, `parent_id = '${key}'`);
  }

  private async _loadChildren(key: string): Promise<void> {
    const generation = this._generation;
    this._children.set(key, 'loading');
    const group = key.startsWith('group:');
    // A run's children come with their own child counts (the server narrows to the parent and
    // counts under the query's filter); a group's runs are listed flat.
    const params = this._queryParams(
      group ? this._childFilter(key) : undefined
    );
    params.set('limit', String(CHILD_LIMIT));
    if (group) {
      params.delete('tree');
    } else {
      params.set('parent', key);
    }
    try {
      const body = await requestAPI<IRunList>(`runs?${params.toString()}`);
      if (generation !== this._generation) {
        return;
      }
      const children: IChildren = {
        runs: withChildren(body),
        total: body.total
      };
      this._children.set(key, children);
    } catch (error) {
      if (generation === this._generation) {
        this._children.delete(key);
        this._expanded.delete(key);
        this._runsError = messageOf(error);
      }
    } finally {
      this._changed.emit();
    }
  }

  private async _loadGroups(): Promise<void> {
    const generation = this._generation;
    const params = this._queryParams();
    params.delete('order_by');
    params.delete('tree');
    params.set('group_by', this._groupBy);
    const known = this.knownKeys().metrics;
    if (known.length > ALL_METRICS_GROUPED) {
      this.columns().metrics.forEach(key => params.append('metric', key));
    }
    try {
      const body = await requestAPI<IRunGroups>(`runs?${params.toString()}`);
      if (generation !== this._generation) {
        return;
      }
      this._groups = body.groups;
      this._groupsTotal = body.total;
      this._runsError = null;
    } catch (error) {
      if (generation === this._generation) {
        this._groups = [];
        this._groupsTotal = 0;
        this._runsError = messageOf(error);
      }
    } finally {
      this._changed.emit();
    }
  }

  /** Load the pages covering rows [start, end) that are not loaded yet. */
  /** Load the pages holding rows `start` to `end`; `visible` ones are also kept fresh by the poll. */
  async ensureRows(start: number, end: number, visible = true): Promise<void> {
    const first = Math.floor(start / PAGE_SIZE);
    const last = Math.floor(Math.max(start, end - 1) / PAGE_SIZE);
    const wanted: number[] = [];
    for (let page = first; page <= last; page++) {
      if (!this._pages.has(page) && !this._loading.has(page)) {
        wanted.push(page);
      }
    }
    if (visible) {
      this._visiblePages = range(first, last);
    }
    await Promise.all(wanted.map(page => this._loadPage(page)));
  }

  /** Re-read the visible pages; called on a timer so running runs update live. */
  async refreshVisible(): Promise<void> {
    await Promise.all([
      ...this._visiblePages.map(page => this._loadPage(page)),
      ...[...this._expanded].map(key => this._loadChildren(key)),
      ...(this._groupBy ? [this._loadGroups()] : [])
    ]);
  }

  /** Re-read the visible rows while the sidebar shows: often while a run there is running,
   * seldom otherwise, never while the page is hidden (one Poll, owned here). */
  startPolling(): void {
    if (this._poll === null) {
      this._poll = new Poll({
        auto: true,
        factory: async () => {
          await this.refreshVisible();
          const anyRunning = [...this._pages.values()].some(page =>
            page.some(run => run.status === 'running')
          );
          const interval = anyRunning ? LIVE_INTERVAL_MS : IDLE_INTERVAL_MS;
          if (this._poll && this._poll.frequency.interval !== interval) {
            this._poll.frequency = { ...this._poll.frequency, interval };
          }
        },
        frequency: { interval: IDLE_INTERVAL_MS, backoff: true, max: 60_000 },
        name: 'jupyter-mlm:runs',
        standby: 'when-hidden'
      });
    }
  }

  stopPolling(): void {
    this._poll?.dispose();
    this._poll = null;
  }

  /** The runs of the current query as CSV (up to 10,000; params, metrics and tags as columns). */
  async exportCsv(): Promise<Blob> {
    const params = this._queryParams();
    params.set('format', 'csv');
    return requestAPI<Blob>(`runs?${params.toString()}`, {}, undefined, 'blob');
  }

  private _queryParams(filter: string = this._filter): URLSearchParams {
    const params = new URLSearchParams({
      order_by: `${this._sort.field} ${this._sort.descending ? 'DESC' : 'ASC'}`
    });
    if (filter.trim()) {
      params.set('filter', filter);
    }
    if (this._tree) {
      params.set('tree', 'true');
    }
    if (this._experiment) {
      params.set('experiment', this._experiment);
    }
    if (this._deleted) {
      params.set('deleted', 'true');
    }
    return params;
  }

  /**
   * One page of the query: of its top-level runs (`flat` false, what the table lists), or of
   * all its runs (what plots and "differences" read) — the same pages when not nesting.
   */
  private async _loadPage(page: number, flat = false): Promise<void> {
    const separate = flat && this._tree;
    const loading = separate ? this._flatLoading : this._loading;
    const generation = this._generation;
    loading.add(page);
    const params = this._queryParams();
    const size = separate ? FLAT_PAGE_SIZE : PAGE_SIZE;
    if (separate) {
      params.delete('tree');
      params.set('keys', 'false'); // the table's request brings the query's keys
    }
    params.set('limit', String(size));
    params.set('offset', String(page * size));
    try {
      const body = await requestAPI<IRunList>(`runs?${params.toString()}`);
      if (generation !== this._generation) {
        return;
      }
      if (separate) {
        this._flatPages.set(page, body.runs);
        this._flatTotal = body.total;
        return;
      }
      this._pages.set(page, withChildren(body));
      this._total = body.total;
      this._experiments = body.experiments;
      if (body.keys) {
        this._keys = { params: body.keys.params, metrics: body.keys.metrics };
        this._tags = body.keys.tags ?? [];
      }
      this._runsError = null;
    } catch (error) {
      if (generation === this._generation) {
        this._runsError = messageOf(error);
        this._pages.clear();
        this._total = 0;
      }
    } finally {
      loading.delete(page);
      this._loaded = true;
      this._changed.emit();
    }
  }

  // -- single runs -------------------------------------------------------------------------
  async getRun(ref: string): Promise<IRun> {
    return requestAPI<IRun>(`runs/${encodeURIComponent(ref)}`);
  }

  async getMetric(
    runId: string,
    key: string,
    maxPoints = 600
  ): Promise<IMetricSeries> {
    return requestAPI<IMetricSeries>(
      `runs/${encodeURIComponent(runId)}/metrics/${encodeURIComponent(key)}?max_points=${maxPoints}`
    );
  }

  async downloadArtifact(runId: string, path: string): Promise<Blob> {
    const encoded = path.split('/').map(encodeURIComponent).join('/');
    return requestAPI<Blob>(
      `runs/${encodeURIComponent(runId)}/artifacts/${encoded}`,
      {},
      undefined,
      'blob'
    );
  }

  async getDiff(a: string, b: string): Promise<IRunDiff> {
    const params = new URLSearchParams({ a, b });
    return requestAPI<IRunDiff>(`diff?${params.toString()}`);
  }

  // -- housekeeping ---------------------------------------------------------------------------
  /** Rename, set the note, set or remove tags of a run; the table re-reads what it shows. */
  async editRun(
    runId: string,
    edit: {
      name?: string;
      note?: string;
      tags?: Record<string, string>;
      delete_tags?: string[];
    }
  ): Promise<IRun> {
    const run = await requestAPI<IRun>(`runs/${encodeURIComponent(runId)}`, {
      method: 'PATCH',
      body: JSON.stringify(edit)
    });
    void this.refreshVisible();
    return run;
  }

  /** Delete softly (hidden from the table; restorable until purged). */
  async deleteRun(runId: string): Promise<void> {
    await requestAPI(`runs/${encodeURIComponent(runId)}`, { method: 'DELETE' });
    this._selected.delete(runId);
    this.setQuery({});
  }

  async restoreRun(runId: string): Promise<void> {
    await requestAPI(`runs/${encodeURIComponent(runId)}/restore`, {
      method: 'POST',
      body: '{}'
    });
    this.setQuery({});
  }

  /** Whether the table lists the deleted runs instead of the others. */
  get showDeleted(): boolean {
    return this._deleted;
  }

  // -- selection for Compare ----------------------------------------------------------------
  get selected(): IRun[] {
    return [...this._selected.values()];
  }

  isSelected(runId: string): boolean {
    return this._selected.has(runId);
  }

  toggleSelected(run: IRun): void {
    if (this._selected.has(run.id)) {
      this._selected.delete(run.id);
    } else {
      this._selected.set(run.id, run);
    }
    this._changed.emit();
  }

  clearSelection(): void {
    this._selected.clear();
    this._changed.emit();
  }

  /** Replace the selection (what brushing a plot selects). */
  setSelection(runs: IRun[]): void {
    this._selected = new Map(runs.map(run => [run.id, run]));
    this._changed.emit();
  }

  /**
   * The first `limit` runs of the current query that are loaded, asking for the pages not yet
   * here (`changed` fires as each arrives): what plots over many runs draw, where the table
   * itself loads only the rows in view.
   */
  loadedRuns(limit: number): IRun[] {
    if (!this._tree) {
      const count = Math.min(this.total, limit);
      void this.ensureRows(0, count, false);
      return range(0, count - 1)
        .map(index => this.runAt(index))
        .filter((run): run is IRun => run !== undefined);
    }
    // Nested runs are rows of their own here: a sweep's trials are what a plot compares.
    const pages = Math.ceil(
      Math.min(this._flatTotal ?? FLAT_PAGE_SIZE, limit) / FLAT_PAGE_SIZE
    );
    for (let page = 0; page < pages; page++) {
      if (!this._flatPages.has(page) && !this._flatLoading.has(page)) {
        void this._loadPage(page, true);
      }
    }
    const runs: IRun[] = [];
    for (let page = 0; page < pages; page++) {
      runs.push(...(this._flatPages.get(page) ?? []));
    }
    return runs.slice(0, limit);
  }

  /** How many runs the plots' query has in all, nested ones included. */
  get allRunsTotal(): number {
    return this._tree ? (this._flatTotal ?? 0) : this._total;
  }

  async getSnapshot(runId: string): Promise<ISnapshot> {
    return requestAPI<ISnapshot>(`runs/${encodeURIComponent(runId)}/snapshot`);
  }

  /** One local source file of a run's snapshot, by its number in `snapshot.sources`. */
  async getSourceFile(runId: string, index: number): Promise<ISourceFile> {
    return requestAPI<ISourceFile>(
      `runs/${encodeURIComponent(runId)}/snapshot/sources/${index}`
    );
  }

  async getSnapshotNotebook(runId: string): Promise<INotebookContent> {
    return requestAPI<INotebookContent>(
      `runs/${encodeURIComponent(runId)}/snapshot/notebook`
    );
  }

  async checkData(runId: string): Promise<IDataCheck> {
    return requestAPI<IDataCheck>(`runs/${encodeURIComponent(runId)}/check`);
  }

  /** The notebook as the user sees it; with `run` it completes that run's start or end snapshot. */
  async postLiveNotebook(
    kernelId: string,
    path: string,
    notebook: unknown,
    run: { run_id: string; phase: string } | null = null
  ): Promise<{ stored: boolean }> {
    return requestAPI<{ stored: boolean }>('snapshots', {
      method: 'POST',
      body: JSON.stringify({ kernel_id: kernelId, path, notebook, ...run })
    });
  }

  dispose(): void {
    this.stopPolling();
  }

  private _selected = new Map<string, IRun>();
  private _status: IStoreStatus | null = null;
  private _statusError: string | null = null;
  private _pages = new Map<number, IRun[]>();
  private _loading = new Set<number>();
  private _flatPages = new Map<number, IRun[]>();
  private _flatLoading = new Set<number>();
  private _flatTotal: number | null = null;
  private _tree = true;
  private _groupBy = '';
  private _groups: IRunGroup[] | null = null;
  private _groupsTotal = 0;
  private _expanded = new Set<string>();
  private _children = new Map<string, IChildren | 'loading'>();
  private _views: IView[] = [];
  private _currentView = '';
  private _widths: Record<string, number> = {};
  private _tags: string[] = [];
  private _visiblePages: number[] = [0];
  private _total = 0;
  private _loaded = false;
  private _filter = '';
  private _sort: ISort = { field: 'start', descending: true };
  private _experiment = '';
  private _deleted = false;
  private _experiments: string[] = [];
  private _runsError: string | null = null;
  private _keys: IColumnChoice | null = null;
  private _columns: Record<string, IColumnChoice> = {};
  private _state: IStateDB | null = null;
  private _generation = 0;
  private _poll: Poll | null = null;
  private _changed = new Signal<this, void>(this);
}

/** The page's runs, each with how many of its children match (tree listings). */
function withChildren(body: IRunList): IRun[] {
  const counts = body.children;
  if (!counts) {
    return body.runs;
  }
  return body.runs.map(run =>
    counts[run.id] ? { ...run, children: counts[run.id] } : run
  );
}

function range(first: number, last: number): number[] {
  const pages: number[] = [];
  for (let page = first; page <= last; page++) {
    pages.push(page);
  }
  return pages;
}

export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
