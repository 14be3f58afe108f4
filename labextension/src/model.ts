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
  IDataCheck,
  IMetricSeries,
  INotebookContent,
  IRun,
  IRunDiff,
  IRunList,
  ISnapshot,
  ISourceFile,
  IStoreStatus
} from './tokens';

export const PAGE_SIZE = 200;
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
const DEFAULT_KEY_COLUMNS = 3;

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
    this._changed.emit();
    if (this._state) {
      void this._state.save(
        COLUMNS_STATE,
        this._columns as unknown as ReadonlyPartialJSONObject
      );
    }
  }

  /** Saved column choices live in JupyterLab's state database. */
  async attachState(state: IStateDB): Promise<void> {
    this._state = state;
    const saved = (await state.fetch(COLUMNS_STATE)) as unknown;
    if (saved && typeof saved === 'object') {
      this._columns = saved as Record<string, IColumnChoice>;
      this._changed.emit();
    }
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
    }>
  ): void {
    this._deleted = query.deleted ?? this._deleted;
    this._filter = query.filter ?? this._filter;
    this._sort = query.sort ?? this._sort;
    this._experiment = query.experiment ?? this._experiment;
    this._pages.clear();
    this._keys = null;
    this._generation += 1;
    this._changed.emit(); // controls showing the query (a checkbox, the filter) follow at once
    void this.ensureRows(0, PAGE_SIZE);
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
    await Promise.all(this._visiblePages.map(page => this._loadPage(page)));
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

  private _queryParams(): URLSearchParams {
    const params = new URLSearchParams({
      order_by: `${this._sort.field} ${this._sort.descending ? 'DESC' : 'ASC'}`
    });
    if (this._filter.trim()) {
      params.set('filter', this._filter);
    }
    if (this._experiment) {
      params.set('experiment', this._experiment);
    }
    if (this._deleted) {
      params.set('deleted', 'true');
    }
    return params;
  }

  private async _loadPage(page: number): Promise<void> {
    const generation = this._generation;
    this._loading.add(page);
    const params = this._queryParams();
    params.set('limit', String(PAGE_SIZE));
    params.set('offset', String(page * PAGE_SIZE));
    try {
      const body = await requestAPI<IRunList>(`runs?${params.toString()}`);
      if (generation !== this._generation) {
        return;
      }
      this._pages.set(page, body.runs);
      this._total = body.total;
      this._experiments = body.experiments;
      if (body.keys) {
        this._keys = body.keys;
      }
      this._runsError = null;
    } catch (error) {
      if (generation === this._generation) {
        this._runsError = messageOf(error);
        this._pages.clear();
        this._total = 0;
      }
    } finally {
      this._loading.delete(page);
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
    const count = Math.min(this.total, limit);
    void this.ensureRows(0, count, false);
    const runs: IRun[] = [];
    for (let index = 0; index < count; index++) {
      const run = this.runAt(index);
      if (run) {
        runs.push(run);
      }
    }
    return runs;
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
