import React from 'react';

import { formatTime } from '../../format';
import { IAuditEvent, IAuditReport } from '../../tokens';

function describe(event: IAuditEvent): string {
  const before = event.before ?? {};
  const after = event.after ?? {};
  const version = after.version ?? before.version;
  switch (event.action) {
    case 'register':
      return `registered v${version}`;
    case 'request':
      return `requested v${version} → ${String(after.stage)}`;
    case 'approve':
      return `approved v${version} → ${String(after.stage)} (asked by ${String(after.requested_by)}${after.named_by ? `; named by ${String(after.named_by)}` : ''})`;
    case 'reject':
      return `rejected the request for v${version} (asked by ${String(after.requested_by)})`;
    case 'alias':
      return `@${String(after.alias)} → v${String(after.version)}`;
    case 'delete_alias':
      return `removed @${String(before.alias)}`;
    case 'rollback':
      return `rolled back v${version} to v${String(after.rolled_back_to)}`;
    case 'restore':
      return `v${version} back in ${String(after.stage)}`;
    case 'delete':
      return `deleted v${version}`;
    case 'checkpoint':
      return 'state recorded at upgrade';
    default:
      return `v${version}: ${String(before.stage ?? '')} → ${String(after.stage ?? '')}`;
  }
}

/** The model's audit log, newest first, with chain verification. */
export function AuditLog(props: {
  events: IAuditEvent[];
  report: IAuditReport | null;
  onVerify: () => void;
}): JSX.Element {
  const { report } = props;
  return (
    <section className="jp-mlm-section">
      <h3>
        Audit log{' '}
        <button
          className="jp-mlm-button jp-mod-styled jp-mlm-verify"
          onClick={props.onVerify}
        >
          Verify chain
        </button>{' '}
        {report && (
          <span
            className={report.ok ? 'jp-mlm-ok' : 'jp-mlm-error-text'}
            role="status"
          >
            {report.ok
              ? `intact: ${report.events} events, hash chain and registry state verified`
              : `broken${report.first_bad_seq ? ` at event ${report.first_bad_seq}` : ''}: ${report.problem}`}
          </span>
        )}
      </h3>
      <table className="jp-mlm-audit">
        <thead>
          <tr>
            <th>#</th>
            <th>When</th>
            <th>Who</th>
            <th>What</th>
            <th>Comment</th>
            <th>Hash</th>
          </tr>
        </thead>
        <tbody>
          {props.events.map(event => (
            <tr key={event.seq} data-action={event.action}>
              <td>{event.seq}</td>
              <td>{formatTime(event.ts_ms)}</td>
              <td
                title={
                  event.db_user ? `database user ${event.db_user}` : undefined
                }
              >
                {event.actor}
                {event.db_user && event.db_user !== event.actor
                  ? ` (db: ${event.db_user})`
                  : ''}
              </td>
              <td>{describe(event)}</td>
              <td>{event.comment ?? ''}</td>
              <td>
                <code title={event.hash}>{event.hash.slice(0, 10)}</code>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
