/**
 * Sends the live notebook (unsaved edits and outputs included) to the server, so a run's
 * snapshot shows the notebook as the user saw it:
 *
 * - when the kernel asks for it: at a run's start (at once) and at its end (once the cell that
 *   ended the run has finished, with its outputs). The kernel asks through a comm opened on
 *   target `jupyter_mlm`; iopub delivers that message before the cell's idle status, so the
 *   answer cannot miss the moment, whether the run started and ended in one cell or under
 *   Run All;
 * - after cells run (debounced, at most one request in flight per notebook), as the kernel's
 *   latest live notebook.
 */
import { ISessionContext } from '@jupyterlab/apputils';
import {
  INotebookTracker,
  NotebookActions,
  NotebookPanel
} from '@jupyterlab/notebook';
import { Kernel, KernelMessage } from '@jupyterlab/services';

import { MLMModel } from './model';

const DEBOUNCE_MS = 1000;
const COMM_TARGET = 'jupyter_mlm';
/** How long an end snapshot waits for the cell that ended the run (a cell may run for hours). */
const END_WAIT_MS = 6 * 60 * 60 * 1000;

interface IPending {
  timer: number | null;
  inFlight: boolean;
  dirty: boolean;
}

interface ISnapshotEvent {
  event: 'snapshot';
  phase: 'start' | 'end' | 'exit';
  run_id: string;
  run_name: string;
  cell_id: string | null;
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
      const waiting = this._waiting.get(args.cell.model.id);
      if (waiting) {
        this._waiting.delete(args.cell.model.id);
        waiting();
      }
    });
    tracker.widgetAdded.connect((_, panel) => this._watch(panel));
    tracker.forEach(panel => this._watch(panel));
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

  /** Answer the kernel's snapshot requests for the kernel this panel uses, now and after restarts. */
  private _watch(panel: NotebookPanel): void {
    const attach = (context: ISessionContext): void => {
      const kernel = context.session?.kernel;
      if (kernel && !this._attached.has(kernel)) {
        this._attached.add(kernel);
        kernel.registerCommTarget(COMM_TARGET, (_comm, message) =>
          this._onRequest(panel, kernel, message)
        );
      }
    };
    panel.sessionContext.kernelChanged.connect(context => attach(context));
    void panel.sessionContext.ready.then(() => attach(panel.sessionContext));
  }

  private _onRequest(
    panel: NotebookPanel,
    kernel: Kernel.IKernelConnection,
    message: KernelMessage.ICommOpenMsg
  ): void {
    const data = message.content.data as unknown as ISnapshotEvent;
    if (data?.event !== 'snapshot' || panel.isDisposed) {
      return;
    }
    const post = (): void => {
      const model = panel.context.model;
      if (!model) {
        return;
      }
      void this._model
        .postLiveNotebook(kernel.id, panel.context.path, model.toJSON(), {
          run_id: data.run_id,
          phase: data.phase
        })
        .then(() => {
          this._sent += 1;
        })
        .catch(error =>
          console.warn(
            `jupyter_mlm: could not send the notebook for run ${data.run_name}`,
            error
          )
        );
    };
    const cellId = data.cell_id;
    const running =
      cellId !== null &&
      panel.content.widgets.some(cell => cell.model.id === cellId);
    if (data.phase === 'start' || !running || cellId === null) {
      post();
      return;
    }
    // The end: the notebook once the cell that ended the run has finished.
    const timer = window.setTimeout(() => {
      this._waiting.delete(cellId);
      post();
    }, END_WAIT_MS);
    this._waiting.set(cellId, () => {
      window.clearTimeout(timer);
      post();
    });
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
  private _attached = new WeakSet<Kernel.IKernelConnection>();
  private _waiting = new Map<string, () => void>();
  private _sent = 0;
}
