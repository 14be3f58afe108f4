import React from 'react';

import { formatBytes, formatNumber, formatTime } from '../../format';
import { IModelCard, IStagePolicy, toNumber } from '../../tokens';
import { StageBadge } from '../RegistryList';

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

/** One version's lineage and card. */
export function VersionCard(props: {
  card: IModelCard;
  policy: IStagePolicy;
  onOpenRun: (id: string, name: string) => void;
}): JSX.Element {
  const { card, onOpenRun } = props;
  return (
    <section className="jp-mlm-section jp-mlm-card" data-version={card.version}>
      <h3>
        v{card.version} lineage and card{' '}
        <StageBadge stage={card.stage} policy={props.policy} />
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
          <tr>
            <th>loading</th>
            <td
              className={card.safe_to_load ? undefined : 'jp-mlm-warning-text'}
            >
              {card.load_safety}
            </td>
          </tr>
          <tr>
            <th>registered</th>
            <td>
              {card.created_by}, {formatTime(card.created_ms)}
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
          {(card.comparisons ?? []).map(c => {
            const first = c.version_a === card.version;
            const mine = first ? c.value_a : c.value_b;
            const theirs = first ? c.value_b : c.value_a;
            return (
              <tr key={`c-${c.id}`} className="jp-mlm-card-comparison">
                <th>vs v{first ? c.version_b : c.version_a}</th>
                <td>
                  {c.metric}{' '}
                  {mine === null ? '—' : formatNumber(toNumber(mine))} vs{' '}
                  {theirs === null ? '—' : formatNumber(toNumber(theirs))} on{' '}
                  {c.rows.toLocaleString()} rows ({c.source}
                  {c.ci_low !== null && c.ci_high !== null
                    ? `, b−a 95 % [${formatNumber(toNumber(c.ci_low))}, ${formatNumber(toNumber(c.ci_high))}]`
                    : ''}
                  )
                </td>
              </tr>
            );
          })}
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
                <td>{typeof v === 'number' ? formatNumber(v) : v}</td>
              </tr>
            ))}
        </tbody>
      </table>
    </section>
  );
}
