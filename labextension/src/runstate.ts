/**
 * The state of one run page: the run and its metric series, re-read by one Poll while the run
 * is running (and the page is visible), once more on demand after an edit. Views render it.
 */
import { Poll } from '@lumino/polling';
import { ISignal, Signal } from '@lumino/signaling';

import { messageOf, MLMModel } from './model';
import { IMetricSeries, IRun } from './tokens';

const LIVE_MS = 2000;

export class RunState {
  constructor(
    readonly model: MLMModel,
    readonly runId: string
  ) {
    this._poll = new Poll({
      auto: true,
      factory: () => this._load(),
      frequency: { interval: LIVE_MS, backoff: true, max: 30_000 },
      name: `jupyter-mlm:run:${runId}`,
      standby: 'when-hidden'
    });
  }

  get changed(): ISignal<this, void> {
    return this._changed;
  }

  get run(): IRun | null {
    return this._run;
  }

  get series(): IMetricSeries[] {
    return this._series;
  }

  /** Why the last read failed, null once one succeeds. */
  get error(): string | null {
    return this._error;
  }

  /** Read the run again now (after an edit the server answered without the whole run). */
  reload(): Promise<void> {
    return this._poll.refresh();
  }

  /** Take an edited run the server returned, without a round trip. */
  update(run: IRun): void {
    this._run = this._run ? { ...this._run, ...run } : run;
    this._changed.emit();
  }

  get isDisposed(): boolean {
    return this._poll.isDisposed;
  }

  dispose(): void {
    this._poll.dispose();
    Signal.clearData(this);
  }

  private async _load(): Promise<void> {
    try {
      const loaded = await this.model.getRun(this.runId);
      const series = await Promise.all(
        Object.keys(loaded.metrics).map(key =>
          this.model.getMetric(loaded.id, key)
        )
      );
      this._run = loaded;
      this._series = series;
      this._error = null;
      if (loaded.status !== 'running') {
        void this._poll.stop(); // nothing more will come: the next read is asked for
      }
    } catch (err) {
      this._error = messageOf(err);
      throw err; // the Poll backs off
    } finally {
      if (!this.isDisposed) {
        this._changed.emit();
      }
    }
  }

  private _poll: Poll;
  private _run: IRun | null = null;
  private _series: IMetricSeries[] = [];
  private _error: string | null = null;
  private _changed = new Signal<this, void>(this);
}
