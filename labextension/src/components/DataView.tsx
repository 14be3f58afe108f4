import React from 'react';

import { formatBytes } from '../format';
import { IDataCheck, IDataEntry } from '../tokens';

export function DataView(props: {
  data: IDataEntry[];
  check: IDataCheck | null;
}): JSX.Element {
  const status = new Map(
    (props.check?.data ?? []).map(d => [d.path, d.status])
  );
  if (props.data.length === 0) {
    return (
      <div className="jp-mlm-muted">
        No data files recorded. Files the kernel opens are recorded
        automatically; use mlm.log_data(path) for data read by native code.
      </div>
    );
  }
  return (
    <table className="jp-mlm-kv jp-mlm-data">
      <thead>
        <tr>
          <th>Path</th>
          <th>Size</th>
          <th>Digest</th>
          <th>Stored</th>
          <th>Now</th>
        </tr>
      </thead>
      <tbody>
        {props.data.map(entry => {
          const now = status.get(entry.path);
          return (
            <tr key={entry.path}>
              <th title={entry.path}>
                {entry.path}
                {entry.kind === 'folder' ? ` (${entry.files} files)` : ''}
              </th>
              <td>{formatBytes(entry.size)}</td>
              <td>
                <code title={entry.digest}>{entry.digest.slice(0, 12)}</code>
              </td>
              <td>{entry.stored ? 'yes' : 'hash only'}</td>
              <td>
                {now === undefined ? (
                  <span className="jp-mlm-muted">checking…</span>
                ) : (
                  <span
                    className={`jp-mlm-badge jp-mlm-badge-${now === 'unchanged' ? 'finished' : now === 'changed' ? 'killed' : 'failed'}`}
                  >
                    {now === 'unchanged' ? 'unchanged' : `${now} since`}
                  </span>
                )}
              </td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}
