/**
 * Sends the live notebook (unsaved edits and outputs included) to the server, so a run's
 * snapshot shows the notebook as the user saw it:
 *
 * - when the kernel asks for it: at a run's start (at once) and at its end (at the kernel's idle
 *   status for the cell that ended the run). The kernel asks through a comm opened on target
 *   `jupyter_mlm`. iopub is ordered: the cell's own outputs come before that idle status and the
 *   next queued cell's after it, so the notebook taken then is exactly what the run left, whether
 *   it started and ended in one cell or under Run All. The cell's execution count travels on
 *   the shell channel, which is not ordered with iopub, so the kernel sends it along;
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
  execution_count: number | null;
}

/** The notebook with the running cell's execution count filled in from the kernel. */
function withCount(notebook: unknown, data: ISnapshotEvent): unknown {
  const cells =
    (notebook as { cells?: { id?: string; execution_count?: number | null }[] })
      .cells ?? [];
  for (const cell of cells) {
    if (
      cell.id === data.cell_id &&
      (cell.execution_count === null || cell.execution_count === undefined) &&
      data.execution_count !== null
    ) {
      cell.execution_count = data.execution_count;
    }
  }
  return notebook;
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
        .postLiveNotebook(
          kernel.id,
          panel.context.path,
          withCount(model.toJSON(), data),
          {
            run_id: data.run_id,
            phase: data.phase
          }
        )
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
    const parent = (message.parent_header as { msg_id?: string }).msg_id;
    if (data.phase === 'start' || !parent) {
      post();
      return;
    }
    // The end: the notebook at the kernel's idle status for the request that ended the run.
    const onMessage = (_: unknown, msg: KernelMessage.IIOPubMessage): void => {
      const parentId = (msg.parent_header as { msg_id?: string }).msg_id;
      if (
        msg.header.msg_type === 'status' &&
        parentId === parent &&
        (msg.content as { execution_state?: string }).execution_state === 'idle'
      ) {
        kernel.iopubMessage.disconnect(onMessage);
        window.clearTimeout(timer);
        post();
      }
    };
    const timer = window.setTimeout(() => {
      kernel.iopubMessage.disconnect(onMessage);
      post();
    }, END_WAIT_MS);
    kernel.iopubMessage.connect(onMessage);
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
  private _sent = 0;
}
