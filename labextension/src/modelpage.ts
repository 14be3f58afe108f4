/**
 * The state of one model page: the server's answer (versions with their allowed moves,
 * requests, card, audit log), the version the user picked, and the outcome of the last action.
 * One Poll refreshes it; views only render it and call its actions.
 */
import { Poll } from '@lumino/polling';
import { ISignal, Signal } from '@lumino/signaling';

import { RegistryModel } from './registry';
import { requestAPI } from './request';
import {
  IApprovalRequest,
  IAuditReport,
  IModelDetail,
  ITimeline
} from './tokens';

const REFRESH_MS = 5000;

export class ModelPageModel {
  constructor(
    readonly registry: RegistryModel,
    readonly name: string
  ) {
    this._poll = new Poll({
      auto: true,
      factory: () => this._load(),
      frequency: { interval: REFRESH_MS, backoff: true, max: 60_000 },
      name: `jupyter-mlm:model:${name}`,
      standby: 'when-hidden'
    });
  }

  get changed(): ISignal<this, void> {
    return this._changed;
  }

  /** The model's loop (alerts, jobs, comparisons, promotions, rollbacks), oldest first. */
  get timeline(): ITimeline | null {
    return this._timeline;
  }

  get detail(): IModelDetail | null {
    return this._detail;
  }

  /** The version whose card is shown: the one the user picked, else production, else latest. */
  get shown(): number | null {
    return this._chosen ?? this._detail?.current ?? null;
  }

  get notice(): string | null {
    return this._notice;
  }

  get error(): string | null {
    return this._error ?? this._loadError;
  }

  get busy(): boolean {
    return this._busy;
  }

  get report(): IAuditReport | null {
    return this._report;
  }

  get isDisposed(): boolean {
    return this._poll.isDisposed;
  }

  dispose(): void {
    this._poll.dispose();
    Signal.clearData(this);
  }

  /** Show another version's card (stays until another is picked). */
  choose(version: number): void {
    this._chosen = version;
    void this._poll.refresh();
  }

  transition(version: number, stage: string, comment: string): Promise<void> {
    return this._act(async () => {
      const result = await this.registry.transition(
        this.name,
        version,
        stage,
        comment
      );
      return result.request
        ? `Requested ${stage} for v${version}; another person must approve it.`
        : `v${version} is now in ${result.version?.stage ?? stage}.`;
    });
  }

  decide(
    request: IApprovalRequest,
    approve: boolean,
    comment: string,
    approver: string
  ): Promise<void> {
    return this._act(async () => {
      const result = await this.registry.decide(
        this.name,
        request.id,
        approve,
        comment,
        approver
      );
      return `${result.status === 'approved' ? 'Approved' : 'Rejected'} v${result.version} → ${result.to_stage}.`;
    });
  }

  rollback(comment: string): Promise<void> {
    return this._act(async () => {
      const version = await this.registry.rollback(this.name, comment);
      return `Rolled back: v${version.version} is in ${version.stage} again.`;
    });
  }

  setAlias(alias: string, version: number): Promise<void> {
    return this._act(async () => {
      await this.registry.setAlias(this.name, alias, version);
      return `@${alias} → v${version}.`;
    });
  }

  deleteAlias(alias: string): Promise<void> {
    return this._act(async () => {
      await this.registry.deleteAlias(this.name, alias);
      return `Removed @${alias}.`;
    });
  }

  async verifyAudit(): Promise<void> {
    try {
      this._report = await this.registry.verifyAudit();
    } catch (error) {
      this._error = error instanceof Error ? error.message : String(error);
    }
    this._changed.emit();
  }

  /** Run one action, say what it did (or why not), then refresh once. */
  private async _act(what: () => Promise<string>): Promise<void> {
    this._busy = true;
    this._notice = null;
    this._error = null;
    this._changed.emit();
    try {
      this._notice = await what();
    } catch (error) {
      this._error = error instanceof Error ? error.message : String(error);
    } finally {
      this._busy = false;
      await this._poll.refresh();
      await this._poll.tick;
    }
  }

  private async _load(): Promise<void> {
    try {
      const [detail, timeline] = await Promise.all([
        this.registry.getModel(this.name, this._chosen),
        requestAPI<ITimeline>(
          `monitor/${encodeURIComponent(this.name)}/timeline`
        )
      ]);
      this._detail = detail;
      this._timeline = timeline;
      this._loadError = null;
    } catch (error) {
      this._loadError = error instanceof Error ? error.message : String(error);
    }
    this._changed.emit();
  }

  private _detail: IModelDetail | null = null;
  private _timeline: ITimeline | null = null;
  private _chosen: number | null = null;
  private _notice: string | null = null;
  private _error: string | null = null;
  private _loadError: string | null = null;
  private _busy = false;
  private _report: IAuditReport | null = null;
  private _poll: Poll;
  private _changed = new Signal<this, void>(this);
}
