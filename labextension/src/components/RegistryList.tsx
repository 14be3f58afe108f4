import React from 'react';

import { RegistryModel } from '../registry';
import { IStagePolicy } from '../tokens';

/** A version's stage as a coloured badge: production green, staging-like orange, archived grey. */
export function StageBadge(props: {
  stage: string;
  policy: IStagePolicy | null;
  version?: number;
}): JSX.Element {
  const { stage, policy, version } = props;
  const kind = !policy
    ? 'other'
    : stage === policy.production
      ? 'production'
      : stage === policy.archived
        ? 'archived'
        : stage === policy.initial
          ? 'initial'
          : 'staged';
  return (
    <span
      className={`jp-mlm-stage jp-mlm-stage-${kind}`}
      data-stage={stage}
      title={
        version !== undefined ? `version ${version} is in ${stage}` : stage
      }
    >
      {version !== undefined ? `v${version} ` : ''}
      {stage}
    </span>
  );
}

export function RegistryList(props: {
  registry: RegistryModel;
  onOpenModel: (name: string) => void;
}): JSX.Element {
  const { registry, onOpenModel } = props;
  const policy = registry.me?.policy ?? null;
  if (registry.error) {
    return (
      <div className="jp-mlm-error" role="alert">
        {registry.error}
      </div>
    );
  }
  if (!registry.loaded) {
    return <div className="jp-mlm-muted jp-mlm-pad">Loading models…</div>;
  }
  if (registry.models.length === 0) {
    return (
      <div className="jp-mlm-muted jp-mlm-pad">
        No registered models yet. In a notebook:{' '}
        <code>mlm.register_model(model, &quot;churn&quot;)</code> or{' '}
        <code>%mlm_register model churn</code>.
      </div>
    );
  }
  return (
    <ul className="jp-mlm-models" aria-label="Registered models">
      {registry.models.map(model => (
        <li key={model.name}>
          <button
            className="jp-mlm-model-row"
            data-model={model.name}
            onClick={() => onOpenModel(model.name)}
            title={`Open ${model.name}: versions, approvals, lineage, audit`}
          >
            <span className="jp-mlm-model-name">{model.name}</span>
            <span className="jp-mlm-model-badges">
              {model.production ? (
                <StageBadge
                  stage={model.production.stage}
                  version={model.production.version}
                  policy={policy}
                />
              ) : (
                <span className="jp-mlm-muted">
                  no {policy?.production ?? 'production'}
                </span>
              )}
              {model.staged.map(v => (
                <StageBadge
                  key={v.version}
                  stage={v.stage}
                  version={v.version}
                  policy={policy}
                />
              ))}
              {model.pending > 0 && (
                <span className="jp-mlm-pending">{model.pending} pending</span>
              )}
            </span>
            <span className="jp-mlm-muted jp-mlm-model-count">
              {model.versions} version{model.versions === 1 ? '' : 's'}
            </span>
          </button>
        </li>
      ))}
    </ul>
  );
}
