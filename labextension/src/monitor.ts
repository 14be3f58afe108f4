/**
 * Client-side state of monitoring: the monitored models with their status (sidebar), and one
 * model's report and series (its page). Each refreshed by one Poll; views only render.
 */
import { Poll } from '@lumino/polling';
import { ISignal, Signal } from '@lumino/signaling';

import { requestAPI } from './request';
import {
  IArm,
  IMonitorReport,
  IMonitorSeries,
  IMonitorStatus,
  ITimeline
} from './tokens';

const REFRESH_MS = 10_000;

function quote(part: string): string {
  return encodeURIComponent(part);
}

export class MonitorModel {
  constructor() {
    this._poll = new Poll({
      auto: false,
      factory: () => this.refresh(),
      frequency: { interval: REFRESH_MS, backoff: true, max: 120_000 },
      name: 'jupyter-mlm:monitor',
      standby: 'when-hidden'
    });
  }

  get changed(): ISignal<this, void> {
    return this._changed;
  }

  get models(): IMonitorStatus[] {
    return this._models;
  }

  get error(): string | null {
    return this._error;
  }

  get loaded(): boolean {
    return this._loaded;
  }

  start(): void {
    void this._poll.start();
    void this._poll.refresh();
  }

  stop(): void {
    void this._poll.stop();
  }

  async refresh(): Promise<void> {
    try {
      const body = await requestAPI<{ models: IMonitorStatus[] }>('monitor');
      this._models = body.models;
      this._error = null;
    } catch (error) {
      this._error = error instanceof Error ? error.message : String(error);
    }
    this._loaded = true;
    this._changed.emit();
  }

  private _models: IMonitorStatus[] = [];
  private _error: string | null = null;
  private _loaded = false;
  private _poll: Poll;
  private _changed = new Signal<this, void>(this);
}

/** One monitored model's page: report over a window, drift-share and rows series, alerts. */
export class MonitorPageModel {
  constructor(readonly name: string) {
    this._poll = new Poll({
      auto: true,
      factory: () => this._load(),
      frequency: { interval: REFRESH_MS, backoff: true, max: 120_000 },
      name: `jupyter-mlm:monitor:${name}`,
      standby: 'when-hidden'
    });
  }

  get changed(): ISignal<this, void> {
    return this._changed;
  }

  get report(): IMonitorReport | null {
    return this._report;
  }

  get drift(): IMonitorSeries | null {
    return this._drift;
  }

  get rows(): IMonitorSeries | null {
    return this._rows;
  }

  get window(): string {
    return this._window;
  }

  /** Rows and metrics per serving arm (serve, serve:ARM, shadow) and version. */
  get arms(): IArm[] {
    return this._arms;
  }

  /** The loop's story: alerts, jobs, comparisons, promotions and rollbacks, in order. */
  get timeline(): ITimeline | null {
    return this._timeline;
  }

  get error(): string | null {
    return this._error;
  }

  setWindow(window: string): void {
    this._window = window;
    void this._poll.refresh();
  }

  dispose(): void {
    this._poll.dispose();
    Signal.clearData(this);
  }

  private async _load(): Promise<void> {
    const model = quote(this.name);
    try {
      const [report, drift, rows, timeline, arms] = await Promise.all([
        requestAPI<IMonitorReport>(
          `monitor/${model}/report?window=${quote(this._window)}`
        ),
        requestAPI<IMonitorSeries>(
          `monitor/${model}/series?metric=drift_share&every=1h`
        ),
        requestAPI<IMonitorSeries>(
          `monitor/${model}/series?metric=rows&every=1h`
        ),
        requestAPI<ITimeline>(`monitor/${model}/timeline`),
        requestAPI<{ arms: IArm[] }>(
          `monitor/${model}/arms?window=${quote(this._window)}`
        )
      ]);
      this._timeline = timeline;
      this._arms = arms.arms;
      this._report = report;
      this._drift = drift;
      this._rows = rows;
      this._error = null;
    } catch (error) {
      this._error = error instanceof Error ? error.message : String(error);
    }
    this._changed.emit();
  }

  private _report: IMonitorReport | null = null;
  private _timeline: ITimeline | null = null;
  private _arms: IArm[] = [];
  private _drift: IMonitorSeries | null = null;
  private _rows: IMonitorSeries | null = null;
  private _window = 'all';
  private _error: string | null = null;
  private _poll: Poll;
  private _changed = new Signal<this, void>(this);
}
