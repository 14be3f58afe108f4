import React, { useState } from 'react';

import { formatTime } from '../../format';
import { IApprovalRequest, IStagePolicy } from '../../tokens';

/** Pending requests with Approve/Reject, and the decided ones. Whether this user may decide a
 * request comes from the server (`refusal`); the approver box exists only where the store's
 * policy allows named approvers. */
export function RequestsPanel(props: {
  requests: IApprovalRequest[];
  policy: IStagePolicy;
  actor: string;
  canApprove: boolean;
  busy: boolean;
  onDecide: (
    request: IApprovalRequest,
    approve: boolean,
    approver: string
  ) => void;
}): JSX.Element | null {
  const [approver, setApprover] = useState('');
  const pending = props.requests.filter(r => r.status === 'pending');
  const decided = props.requests.filter(r => r.status !== 'pending');
  if (props.requests.length === 0) {
    return null;
  }
  return (
    <>
      {pending.length > 0 && (
        <section className="jp-mlm-section jp-mlm-requests">
          <h3>Pending approvals</h3>
          {pending.map(request => {
            const named =
              props.policy.named_approvers && approver.trim() !== '';
            const refusal = named ? null : (request.refusal ?? null);
            const why = !props.canApprove
              ? 'You are not allowed to approve'
              : (refusal ?? '');
            return (
              <div
                key={request.id}
                className="jp-mlm-request"
                data-request={request.id}
              >
                <div>
                  <b>
                    v{request.version} → {request.to_stage}
                  </b>{' '}
                  asked by {request.requested_by} at{' '}
                  {formatTime(request.requested_ms)}
                  {request.comment ? ` — “${request.comment}”` : ''}
                </div>
                {refusal && (
                  <div className="jp-mlm-muted jp-mlm-refusal">{refusal}</div>
                )}
                <div className="jp-mlm-request-actions">
                  {props.policy.named_approvers && (
                    <input
                      className="jp-mlm-approver jp-mod-styled"
                      placeholder={`Decide as (default: ${props.actor})`}
                      value={approver}
                      onChange={e => setApprover(e.target.value)}
                      aria-label="Approver"
                    />
                  )}
                  <button
                    className="jp-mlm-button jp-mod-styled jp-mlm-approve"
                    disabled={!props.canApprove || props.busy || !!refusal}
                    title={
                      why ||
                      `Approve: v${request.version} goes to ${request.to_stage}`
                    }
                    onClick={() => props.onDecide(request, true, approver)}
                  >
                    Approve
                  </button>
                  <button
                    className="jp-mlm-button jp-mod-styled jp-mlm-reject"
                    disabled={!props.canApprove || props.busy || !!refusal}
                    title={
                      why || `Reject: v${request.version} stays where it is`
                    }
                    onClick={() => props.onDecide(request, false, approver)}
                  >
                    Reject
                  </button>
                </div>
              </div>
            );
          })}
        </section>
      )}
      {decided.length > 0 && (
        <section className="jp-mlm-section">
          <h3>Decided requests</h3>
          <table className="jp-mlm-kv">
            <tbody>
              {decided.map(r => (
                <tr key={r.id} data-request={r.id}>
                  <th>
                    v{r.version} → {r.to_stage}
                  </th>
                  <td>
                    {r.status} by {r.decided_by ?? '—'} (asked by{' '}
                    {r.requested_by})
                    {r.decision_comment ? ` — “${r.decision_comment}”` : ''}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </section>
      )}
    </>
  );
}
