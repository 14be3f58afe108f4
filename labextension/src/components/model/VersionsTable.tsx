import React, { useState } from 'react';

import {
  formatBytes,
  formatNumber,
  formatShortTime,
  formatTime
} from '../../format';
import { IModelVersion, IStagePolicy } from '../../tokens';
import { StageBadge } from '../RegistryList';

function metricText(value: number | string): string {
  return typeof value === 'number' ? formatNumber(value) : value;
}

/** The versions with, per row, exactly the moves the server allows: the box shows one, the
 * button sends that one and says so. */
export function VersionsTable(props: {
  versions: IModelVersion[];
  policy: IStagePolicy;
  shown: number | null;
  canWrite: boolean;
  busy: boolean;
  onChoose: (version: number) => void;
  onMove: (version: number, stage: string) => void;
  onOpenRun: (id: string, name: string) => void;
}): JSX.Element {
  const [picked, setPicked] = useState<{ [version: number]: string }>({});
  const metricKeys = [
    ...new Set(props.versions.flatMap(v => Object.keys(v.run?.metrics ?? {})))
  ].slice(0, 4);
  return (
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
        {props.versions.map(v => {
          const moves = v.moves ?? [];
          const move =
            moves.find(m => m.stage === picked[v.version]) ?? moves[0] ?? null;
          return (
            <tr
              key={v.version}
              data-version={v.version}
              className={
                props.shown === v.version ? 'jp-mlm-selected' : undefined
              }
              onClick={() => props.onChoose(v.version)}
            >
              <td>v{v.version}</td>
              <td>
                <StageBadge stage={v.stage} policy={props.policy} />
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
                        props.onOpenRun(v.run.id, v.run.name);
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
              <td
                className="jp-mlm-registered"
                title={formatTime(v.created_ms)}
              >
                {formatShortTime(v.created_ms)} by {v.created_by},{' '}
                {formatBytes(v.size)}
              </td>
              <td onClick={e => e.stopPropagation()}>
                <select
                  className="jp-mod-styled jp-mlm-target"
                  value={move?.stage ?? ''}
                  disabled={!props.canWrite || moves.length === 0}
                  onChange={e =>
                    setPicked({ ...picked, [v.version]: e.target.value })
                  }
                  aria-label={`Target stage for v${v.version}`}
                >
                  {moves.map(m => (
                    <option key={m.stage} value={m.stage}>
                      {m.stage}
                      {m.needs_approval ? ' (approval)' : ''}
                    </option>
                  ))}
                </select>
                <button
                  className="jp-mlm-button jp-mod-styled jp-mlm-move"
                  disabled={!props.canWrite || props.busy || move === null}
                  data-stage={move?.stage ?? ''}
                  title={
                    !props.canWrite
                      ? 'You may not change this registry'
                      : move === null
                        ? 'No stage change is allowed from here'
                        : move.needs_approval
                          ? `Request ${move.stage} for v${v.version}: another person must approve`
                          : `Move v${v.version} to ${move.stage}`
                  }
                  onClick={() => move && props.onMove(v.version, move.stage)}
                >
                  {move?.needs_approval ? 'Request' : 'Move'}
                </button>
              </td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}
