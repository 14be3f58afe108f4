/**
 * Sends the live notebook (unsaved edits and outputs included) to the server after cells run,
 * so a run's snapshot shows the notebook as the user saw it. Debounced per notebook, with at
 * most one request in flight: a change during a request is sent once it returns.
 */
import {
  INotebookTracker,
  NotebookActions,
  NotebookPanel
} from '@jupyterlab/notebook';

import { MLMModel } from './model';

const DEBOUNCE_MS = 1000;

interface IPending {
  timer: number | null;
  inFlight: boolean;
  dirty: boolean;
}

export class LiveNotebookSync {
  constructor(
    private readonly _model: MLMModel,
    tracker: INotebookTracker
  ) {
    NotebookActions.executed.connect((_, args) => {
      const panel = tracker.find(p => p.content === args.notebook);
      if (panel) {
        this.schedule(panel);
      }
    });
  }

  /** Number of posts sent (for tests and diagnostics). */
  get sent(): number {
    return this._sent;
  }

  schedule(panel: NotebookPanel): void {
    const state = this._state(panel);
    state.dirty = true;
    if (state.timer !== null) {
      window.clearTimeout(state.timer);
    }
    state.timer = window.setTimeout(() => {
      state.timer = null;
      void this._send(panel, state);
    }, DEBOUNCE_MS);
  }

  private async _send(panel: NotebookPanel, state: IPending): Promise<void> {
    if (state.inFlight || !state.dirty) {
      return;
    }
    const kernelId = panel.sessionContext.session?.kernel?.id;
    const model = panel.context.model;
    if (!kernelId || !model) {
      return;
    }
    state.inFlight = true;
    state.dirty = false;
    try {
      await this._model.postLiveNotebook(
        kernelId,
        panel.context.path,
        model.toJSON()
      );
      this._sent += 1;
    } catch (error) {
      // A failed post only means this snapshot falls back to the saved file.
      console.warn('jupyter_mlm: could not send the live notebook', error);
    } finally {
      state.inFlight = false;
      if (state.dirty) {
        this.schedule(panel);
      }
    }
  }

  private _state(panel: NotebookPanel): IPending {
    let state = this._pending.get(panel);
    if (!state) {
      state = { timer: null, inFlight: false, dirty: false };
      this._pending.set(panel, state);
      panel.disposed.connect(() => this._pending.delete(panel));
    }
    return state;
  }

  private _pending = new Map<NotebookPanel, IPending>();
  private _sent = 0;
}
