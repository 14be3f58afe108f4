/**
 * Client-side state of the sidebar: what the server said last, and a signal when it changes.
 */
import { ISignal, Signal } from '@lumino/signaling';

import { requestAPI } from './request';
import { IStoreStatus } from './tokens';

export class MLMModel {
  get status(): IStoreStatus | null {
    return this._status;
  }

  get error(): string | null {
    return this._error;
  }

  get changed(): ISignal<this, void> {
    return this._changed;
  }

  async refreshStatus(): Promise<void> {
    try {
      this._status = await requestAPI<IStoreStatus>('status');
      this._error = null;
    } catch (error) {
      this._error = error instanceof Error ? error.message : String(error);
    }
    this._changed.emit();
  }

  private _status: IStoreStatus | null = null;
  private _error: string | null = null;
  private _changed = new Signal<this, void>(this);
}
