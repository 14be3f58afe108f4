/**
 * Client-side state of the registry: the models list, who the user is and what they may do.
 * Every registry call of the views goes through here.
 */
import { ISignal, Signal } from '@lumino/signaling';

import { requestAPI } from './request';
import {
  IApprovalRequest,
  IAuditReport,
  IMe,
  IModelDetail,
  IModelSummary,
  IModelVersion
} from './tokens';

function post(body: unknown, method = 'POST'): RequestInit {
  return { method, body: JSON.stringify(body) };
}

function quote(part: string): string {
  return encodeURIComponent(part);
}

export class RegistryModel {
  get changed(): ISignal<this, void> {
    return this._changed;
  }

  get models(): IModelSummary[] {
    return this._models;
  }

  get me(): IMe | null {
    return this._me;
  }

  get error(): string | null {
    return this._error;
  }

  get loaded(): boolean {
    return this._loaded;
  }

  async refresh(): Promise<void> {
    try {
      const [me, list] = await Promise.all([
        this._me ? Promise.resolve(this._me) : requestAPI<IMe>('me'),
        requestAPI<{ models: IModelSummary[] }>('models')
      ]);
      this._me = me;
      this._models = list.models;
      this._error = null;
    } catch (error) {
      this._error = error instanceof Error ? error.message : String(error);
    }
    this._loaded = true;
    this._changed.emit();
  }

  /** A model page's data in one answer; `version` picks the card shown (default: current). */
  getModel(name: string, version: number | null = null): Promise<IModelDetail> {
    const query = version === null ? '' : `?version=${version}`;
    return requestAPI<IModelDetail>(`models/${quote(name)}${query}`);
  }

  verifyAudit(): Promise<IAuditReport> {
    return requestAPI<IAuditReport>('audit/verify');
  }

  /** A stage change: the version when done at once, the request when it needs approval. */
  async transition(
    name: string,
    version: number,
    stage: string,
    comment: string
  ): Promise<{ version?: IModelVersion; request?: IApprovalRequest }> {
    const result = await requestAPI<{
      version?: IModelVersion;
      request?: IApprovalRequest;
    }>(
      `models/${quote(name)}/versions/${version}/transition`,
      post({ stage, comment })
    );
    void this.refresh();
    return result;
  }

  async decide(
    name: string,
    requestId: string,
    approve: boolean,
    comment: string,
    approver: string
  ): Promise<IApprovalRequest> {
    const body: { comment: string; approver?: string } = { comment };
    if (approver.trim()) {
      body.approver = approver.trim();
    }
    const result = await requestAPI<{ request: IApprovalRequest }>(
      `models/${quote(name)}/requests/${requestId}/${approve ? 'approve' : 'reject'}`,
      post(body)
    );
    void this.refresh();
    return result.request;
  }

  async rollback(name: string, comment: string): Promise<IModelVersion> {
    const result = await requestAPI<{ version: IModelVersion }>(
      `models/${quote(name)}/rollback`,
      post({ comment })
    );
    void this.refresh();
    return result.version;
  }

  async setAlias(name: string, alias: string, version: number): Promise<void> {
    await requestAPI(
      `models/${quote(name)}/aliases/${quote(alias)}`,
      post({ version }, 'PUT')
    );
    void this.refresh();
  }

  async deleteAlias(name: string, alias: string): Promise<void> {
    await requestAPI(`models/${quote(name)}/aliases/${quote(alias)}`, {
      method: 'DELETE'
    });
    void this.refresh();
  }

  private _models: IModelSummary[] = [];
  private _me: IMe | null = null;
  private _error: string | null = null;
  private _loaded = false;
  private _changed = new Signal<this, void>(this);
}
