import React, { useState } from 'react';

import { ModelPageModel } from '../modelpage';
import { AuditLog } from './model/AuditLog';
import { RequestsPanel } from './model/RequestsPanel';
import { VersionCard } from './model/VersionCard';
import { LoopSection } from './MonitorPage';
import { VersionsTable } from './model/VersionsTable';

/** A registered model: requests, versions with their allowed moves, a version's card, the audit
 * log. State is the model's (one Poll); this view only draws it and forwards clicks. */
export function ModelPage(props: {
  model: ModelPageModel;
  onOpenRun: (id: string, name: string) => void;
}): JSX.Element {
  const { model, onOpenRun } = props;
  const [comment, setComment] = useState('');
  const [alias, setAlias] = useState('');
  const detail = model.detail;
  const me = model.registry.me;
  const canWrite = me?.rights.write ?? false;
  const canApprove = me?.rights.approve ?? false;
  const policy = detail?.policy ?? me?.policy ?? null;
  const history = detail?.production_history ?? [];
  const shown = model.shown;
  // The header speaks of the version that serves (production, else the latest), not of v1.
  const current =
    detail?.versions.find(v => v.version === detail.current) ?? null;
  const withComment = (action: (text: string) => Promise<void>): void => {
    void action(comment).then(() => {
      if (!model.error) {
        setComment('');
      }
    });
  };

  return (
    <div className="jp-mlm-model-page" data-model={model.name}>
      <div className="jp-mlm-model-header">
        <h2>{model.name}</h2>
        {current && (
          <span className="jp-mlm-muted jp-mlm-current-version">
            v{current.version} ({current.stage})
            {current.description ? `: ${current.description}` : ''}
          </span>
        )}
        {detail && (
          <span className="jp-mlm-muted jp-mlm-actor">
            you act as <b>{detail.actor}</b>
          </span>
        )}
      </div>
      {model.error && (
        <div className="jp-mlm-error" role="alert">
          {model.error}
        </div>
      )}
      {model.notice && (
        <div className="jp-mlm-notice" role="status">
          {model.notice}
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
          disabled={!canWrite || model.busy || history.length < 2}
          title={
            !canWrite
              ? 'You may not change this registry'
              : history.length < 2
                ? `No earlier ${policy?.production ?? 'production'} version to go back to`
                : `Put v${history[history.length - 2]} back in ${policy?.production}`
          }
          onClick={() => withComment(text => model.rollback(text))}
        >
          Roll back
        </button>
      </div>

      {detail && policy && (
        <RequestsPanel
          requests={detail.requests}
          policy={policy}
          actor={detail.actor}
          canApprove={canApprove}
          busy={model.busy}
          onDecide={(request, approve, approver) =>
            withComment(text => model.decide(request, approve, text, approver))
          }
        />
      )}

      <section className="jp-mlm-section">
        <h3>Versions</h3>
        {detail && policy && (
          <VersionsTable
            versions={detail.versions}
            policy={policy}
            shown={shown}
            canWrite={canWrite}
            busy={model.busy}
            onChoose={version => model.choose(version)}
            onMove={(version, stage) =>
              withComment(text => model.transition(version, stage, text))
            }
            onOpenRun={onOpenRun}
          />
        )}
        <div className="jp-mlm-alias-form">
          <input
            className="jp-mod-styled"
            placeholder="alias, e.g. champion"
            value={alias}
            onChange={e => setAlias(e.target.value)}
            aria-label="Alias"
          />
          <button
            className="jp-mlm-button jp-mod-styled jp-mlm-set-alias"
            disabled={!canWrite || model.busy || !alias || shown === null}
            onClick={() => shown !== null && void model.setAlias(alias, shown)}
          >
            Point at v{shown ?? '?'}
          </button>
        </div>
      </section>

      {detail?.card && policy && (
        <VersionCard card={detail.card} policy={policy} onOpenRun={onOpenRun} />
      )}

      {model.timeline && model.timeline.events.length > 0 && (
        <LoopSection timeline={model.timeline} />
      )}

      <AuditLog
        events={detail?.audit ?? []}
        report={model.report}
        onVerify={() => void model.verifyAudit()}
      />
    </div>
  );
}
