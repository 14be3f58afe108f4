import React, { useCallback, useEffect, useState } from 'react';

import { formatBytes, formatNumber, formatTime } from '../format';
import { RegistryModel } from '../registry';
import {
  IApprovalRequest,
  IAuditEvent,
  IAuditReport,
  IModelCard,
  IModelDetail,
  IModelVersion
} from '../tokens';
import { StageBadge } from './RegistryList';

const REFRESH_MS = 5000;

function metricText(value: number | string): string {
  return typeof value === 'number' ? formatNumber(value) : value;
}

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
      return `approved v${version} → ${String(after.stage)} (asked by ${String(after.requested_by)})`;
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
    default:
      return `v${version}: ${String(before.stage ?? '')} → ${String(after.stage ?? '')}`;
  }
}

/** Data files → run → notebook snapshot → version, each a box with what identifies it. */
function LineageChain(props: {
  card: IModelCard;
  onOpenRun: (id: string, name: string) => void;
}): JSX.Element {
  const { lineage } = props.card;
  return (
    <div className="jp-mlm-lineage" aria-label="Lineage">
      <div className="jp-mlm-lineage-node" data-kind="data">
        <div className="jp-mlm-lineage-kind">Data</div>
        {lineage.data.length === 0 ? (
          <div className="jp-mlm-muted">no files recorded</div>
        ) : (
          lineage.data.map(d => (
            <div key={d.path} title={d.digest}>
              {d.path.split('/').pop()}{' '}
              <code className="jp-mlm-muted">{d.digest.slice(0, 10)}</code>
            </div>
          ))
        )}
      </div>
      <span className="jp-mlm-lineage-arrow">→</span>
      <div className="jp-mlm-lineage-node" data-kind="run">
        <div className="jp-mlm-lineage-kind">Run</div>
        {lineage.run ? (
          <button
            className="jp-mlm-link"
            onClick={() =>
              lineage.run && props.onOpenRun(lineage.run.id, lineage.run.name)
            }
          >
            {lineage.run.name}
          </button>
        ) : (
          <div className="jp-mlm-muted">none</div>
        )}
        {lineage.run && (
          <div className="jp-mlm-muted">{lineage.run.experiment}</div>
        )}
      </div>
      <span className="jp-mlm-lineage-arrow">→</span>
      <div className="jp-mlm-lineage-node" data-kind="notebook">
        <div className="jp-mlm-lineage-kind">Notebook snapshot</div>
        {lineage.notebook ? (
          <>
            <div>{lineage.notebook.path?.split('/').pop() ?? '(no file)'}</div>
            <code className="jp-mlm-muted">
              {lineage.notebook.manifest.slice(0, 10)}
            </code>
            {lineage.environment && (
              <div className="jp-mlm-muted">
                Python {lineage.environment.python},{' '}
                {lineage.environment.packages} packages
              </div>
            )}
          </>
        ) : (
          <div className="jp-mlm-muted">none</div>
        )}
      </div>
      <span className="jp-mlm-lineage-arrow">→</span>
      <div className="jp-mlm-lineage-node" data-kind="version">
        <div className="jp-mlm-lineage-kind">Version</div>
        <div>
          {props.card.model} v{props.card.version}
        </div>
        <code className="jp-mlm-muted">{props.card.digest.slice(0, 10)}</code>
      </div>
    </div>
  );
}

export function ModelPage(props: {
  registry: RegistryModel;
  name: string;
  onOpenRun: (id: string, name: string) => void;
}): JSX.Element {
  const { registry, name, onOpenRun } = props;
  const me = registry.me;
  const policy = me?.policy ?? null;
  const [detail, setDetail] = useState<IModelDetail | null>(null);
  const [audit, setAudit] = useState<IAuditEvent[]>([]);
  const [selected, setSelected] = useState<number | null>(null);
  // A version the user clicked stays shown; otherwise the page follows production (else latest).
  const [chosen, setChosen] = useState<number | null>(null);
  const [card, setCard] = useState<IModelCard | null>(null);
  const [comment, setComment] = useState('');
  const [approver, setApprover] = useState('');
  const [targets, setTargets] = useState<{ [version: number]: string }>({});
  const [alias, setAlias] = useState('');
  const [notice, setNotice] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [report, setReport] = useState<IAuditReport | null>(null);

  const load = useCallback(async () => {
    try {
      const [model, events] = await Promise.all([
        registry.getModel(name),
        registry.getAudit(name)
      ]);
      setDetail(model);
      setAudit(events);
      setLoadError(null);
      const shown =
        chosen ??
        model.versions.find(v => v.stage === policy?.production)?.version ??
        model.versions[model.versions.length - 1]?.version ??
        null;
      if (shown !== null) {
        setSelected(shown);
        setCard(await registry.getCard(name, shown));
      }
    } catch (e) {
      setLoadError(e instanceof Error ? e.message : String(e));
    }
  }, [registry, name, chosen, policy?.production]);

  useEffect(() => {
    if (!me) {
      void registry.refresh();
    }
    void load();
    const timer = window.setInterval(() => void load(), REFRESH_MS);
    return () => window.clearInterval(timer);
  }, [load]);

  const act = async (what: () => Promise<string>): Promise<void> => {
    setBusy(true);
    setNotice(null);
    setError(null);
    try {
      setNotice(await what());
      setComment('');
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    } finally {
      setBusy(false);
      await load();
    }
  };

  const canWrite = me?.rights.write ?? false;
  const canApprove = me?.rights.approve ?? false;
  const pending = (detail?.requests ?? []).filter(r => r.status === 'pending');
  const decided = (detail?.requests ?? []).filter(r => r.status !== 'pending');
  const history = detail?.production_history ?? [];
  const metricKeys = [
    ...new Set(
      (detail?.versions ?? []).flatMap(v => Object.keys(v.run?.metrics ?? {}))
    )
  ].slice(0, 4);

  const transition = (version: IModelVersion): void => {
    const stage = targets[version.version] ?? policy?.production ?? '';
    void act(async () => {
      const result = await registry.transition(
        name,
        version.version,
        stage,
        comment
      );
      return result.request
        ? `Requested ${stage} for v${version.version}; another user must approve it.`
        : `v${version.version} is now in ${stage}.`;
    });
  };

  const decide = (request: IApprovalRequest, approve: boolean): void => {
    void act(async () => {
      const result = await registry.decide(
        name,
        request.id,
        approve,
        comment,
        approver
      );
      return `${result.status === 'approved' ? 'Approved' : 'Rejected'} v${result.version} → ${result.to_stage}.`;
    });
  };

  return (
    <div className="jp-mlm-model-page" data-model={name}>
      <div className="jp-mlm-model-header">
        <h2>{name}</h2>
        {detail?.description && (
          <span className="jp-mlm-muted">{detail.description}</span>
        )}
      </div>
      {(error ?? loadError) && (
        <div className="jp-mlm-error" role="alert">
          {error ?? loadError}
        </div>
      )}
      {notice && (
        <div className="jp-mlm-notice" role="status">
          {notice}
        </div>
      )}
      <div className="jp-mlm-action-bar">
        <input
          className="jp-mlm-comment jp-mod-styled"
          placeholder="Comment for the next action (why)"
          value={comment}
          onChange={e => setComment(e.target.value)}
          aria-label="Comment"
        />
        <button
          className="jp-mlm-button jp-mod-styled jp-mlm-rollback"
          disabled={!canWrite || busy || history.length < 2}
          title={
            !canWrite
              ? 'You may not change this registry'
              : history.length < 2
                ? `No earlier ${policy?.production ?? 'production'} version to go back to`
                : `Put v${history[history.length - 2]} back in ${policy?.production}`
          }
          onClick={() =>
            void act(async () => {
              const v = await registry.rollback(name, comment);
              return `Rolled back: v${v.version} is in ${v.stage} again.`;
            })
          }
        >
          Roll back
        </button>
      </div>

      {pending.length > 0 && (
        <section className="jp-mlm-section jp-mlm-requests">
          <h3>Pending approvals</h3>
          {pending.map(request => (
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
              <div className="jp-mlm-request-actions">
                <input
                  className="jp-mlm-approver jp-mod-styled"
                  placeholder={`Approve as (default: ${me?.name ?? 'you'})`}
                  value={approver}
                  onChange={e => setApprover(e.target.value)}
                  aria-label="Approver"
                />
                <button
                  className="jp-mlm-button jp-mod-styled jp-mlm-approve"
                  disabled={!canApprove || busy}
                  title={
                    canApprove
                      ? 'Approve and carry out the transition'
                      : 'You are not allowed to approve'
                  }
                  onClick={() => decide(request, true)}
                >
                  Approve
                </button>
                <button
                  className="jp-mlm-button jp-mod-styled jp-mlm-reject"
                  disabled={!canApprove || busy}
                  onClick={() => decide(request, false)}
                >
                  Reject
                </button>
              </div>
            </div>
          ))}
        </section>
      )}

      <section className="jp-mlm-section">
        <h3>Versions</h3>
        <table className="jp-mlm-versions">
          <thead>
            <tr>
              <th>Version</th>
              <th>Stage</th>
              <th>Aliases</th>
              <th>Source run</th>
              {metricKeys.map(k => (
                <th key={k}>{k}</th>
              ))}
              <th>Flavor</th>
              <th>Registered</th>
              <th>Move to</th>
            </tr>
          </thead>
          <tbody>
            {(detail?.versions ?? []).map(v => {
              // An archived version goes back through review (or a rollback), never straight to production.
              const choices = (policy?.stages ?? []).filter(
                s =>
                  s !== v.stage &&
                  !(v.stage === policy?.archived && s === policy?.production)
              );
              const target = targets[v.version] ?? choices[0] ?? '';
              const gated = policy?.require_approval_for.includes(target);
              return (
                <tr
                  key={v.version}
                  data-version={v.version}
                  className={
                    selected === v.version ? 'jp-mlm-selected' : undefined
                  }
                  onClick={() => {
                    setChosen(v.version);
                    setSelected(v.version);
                    void registry
                      .getCard(name, v.version)
                      .then(setCard)
                      .catch(() => undefined);
                  }}
                >
                  <td>v{v.version}</td>
                  <td>
                    <StageBadge stage={v.stage} policy={policy} />
                  </td>
                  <td>
                    {v.aliases.map(a => (
                      <code key={a} className="jp-mlm-alias">
                        @{a}
                      </code>
                    ))}
                  </td>
                  <td>
                    {v.run ? (
                      <button
                        className="jp-mlm-link"
                        onClick={e => {
                          e.stopPropagation();
                          if (v.run) {
                            onOpenRun(v.run.id, v.run.name);
                          }
                        }}
                      >
                        {v.run.name}
                      </button>
                    ) : (
                      <span className="jp-mlm-muted">—</span>
                    )}
                  </td>
                  {metricKeys.map(k => (
                    <td key={k} className="jp-mlm-num">
                      {v.run && k in v.run.metrics
                        ? metricText(v.run.metrics[k])
                        : ''}
                    </td>
                  ))}
                  <td>{v.flavor}</td>
                  <td title={formatTime(v.created_ms)}>
                    {v.created_by}, {formatBytes(v.size)}
                  </td>
                  <td onClick={e => e.stopPropagation()}>
                    <select
                      className="jp-mod-styled jp-mlm-target"
                      value={target}
                      disabled={!canWrite}
                      onChange={e =>
                        setTargets({ ...targets, [v.version]: e.target.value })
                      }
                      aria-label={`Target stage for v${v.version}`}
                    >
                      {choices.map(s => (
                        <option key={s} value={s}>
                          {s}
                        </option>
                      ))}
                    </select>
                    <button
                      className="jp-mlm-button jp-mod-styled jp-mlm-move"
                      disabled={!canWrite || busy}
                      title={
                        !canWrite
                          ? 'You may not change this registry'
                          : gated
                            ? `${target} needs another user's approval`
                            : `Move v${v.version} to ${target}`
                      }
                      onClick={() => transition(v)}
                    >
                      {gated ? 'Request' : 'Move'}
                    </button>
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
        <div className="jp-mlm-alias-form">
          <input
            className="jp-mod-styled"
            placeholder="alias, e.g. champion"
            value={alias}
            onChange={e => setAlias(e.target.value)}
            aria-label="Alias"
          />
          <button
            className="jp-mlm-button jp-mod-styled"
            disabled={!canWrite || busy || !alias || selected === null}
            onClick={() =>
              void act(async () => {
                await registry.setAlias(name, alias, selected ?? 0);
                return `@${alias} → v${selected}.`;
              })
            }
          >
            Point at v{selected ?? '?'}
          </button>
        </div>
      </section>

      {card && (
        <section className="jp-mlm-section jp-mlm-card">
          <h3>
            v{card.version} lineage and card{' '}
            <StageBadge stage={card.stage} policy={policy} />
          </h3>
          <LineageChain card={card} onOpenRun={onOpenRun} />
          <table className="jp-mlm-kv">
            <tbody>
              <tr>
                <th>digest</th>
                <td>
                  <code>{card.digest}</code>
                </td>
              </tr>
              <tr>
                <th>flavor</th>
                <td>
                  {card.flavor}, {formatBytes(card.size)}
                </td>
              </tr>
              {card.signature?.inputs && (
                <tr>
                  <th>inputs</th>
                  <td>
                    {card.signature.inputs
                      .map(i => `${i.name}: ${i.type}`)
                      .join(', ')}
                  </td>
                </tr>
              )}
              {card.reference_rows !== null && (
                <tr>
                  <th>reference data</th>
                  <td>{card.reference_rows} rows profiled</td>
                </tr>
              )}
              {card.lineage.run &&
                Object.entries(card.lineage.run.params).map(([k, v]) => (
                  <tr key={`p-${k}`}>
                    <th>params.{k}</th>
                    <td>{v}</td>
                  </tr>
                ))}
              {card.lineage.run &&
                Object.entries(card.lineage.run.metrics).map(([k, v]) => (
                  <tr key={`m-${k}`}>
                    <th>metrics.{k}</th>
                    <td>{formatNumber(v)}</td>
                  </tr>
                ))}
            </tbody>
          </table>
        </section>
      )}

      {decided.length > 0 && (
        <section className="jp-mlm-section">
          <h3>Decided requests</h3>
          <table className="jp-mlm-kv">
            <tbody>
              {decided.map(r => (
                <tr key={r.id}>
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

      <section className="jp-mlm-section">
        <h3>
          Audit log{' '}
          <button
            className="jp-mlm-button jp-mod-styled jp-mlm-verify"
            onClick={() =>
              void registry
                .verifyAudit()
                .then(setReport)
                .catch(e => setError(String(e)))
            }
          >
            Verify chain
          </button>{' '}
          {report && (
            <span
              className={report.ok ? 'jp-mlm-ok' : 'jp-mlm-error-text'}
              role="status"
            >
              {report.ok
                ? `intact: ${report.events} events, hash chain verified`
                : `broken at event ${report.first_bad_seq}: ${report.problem}`}
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
            {audit.map(event => (
              <tr key={event.seq} data-action={event.action}>
                <td>{event.seq}</td>
                <td>{formatTime(event.ts_ms)}</td>
                <td>{event.actor}</td>
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
    </div>
  );
}
