import React, { useState } from 'react';

import { IEnvironment } from '../tokens';

export function EnvironmentView(props: {
  environment: IEnvironment;
}): JSX.Element {
  const { environment } = props;
  const [query, setQuery] = useState('');
  const packages = Object.entries(environment.packages ?? {});
  const imported = environment.imported ?? {};
  const needle = query.trim().toLowerCase();
  const shown = packages.filter(([name]) => name.includes(needle));
  const git = environment.git;
  return (
    <div className="jp-mlm-env">
      <dl className="jp-mlm-facts">
        <dt>Python</dt>
        <dd>
          {environment.python?.implementation} {environment.python?.version}
        </dd>
        <dt>Platform</dt>
        <dd>{environment.platform?.platform}</dd>
        <dt>CPUs</dt>
        <dd>{environment.cpu_count}</dd>
        <dt>GPUs</dt>
        <dd>{(environment.gpus ?? []).join(', ') || 'none'}</dd>
        <dt>Git</dt>
        <dd>
          {git
            ? `${git.commit.slice(0, 10)} on ${git.branch ?? '?'}${git.dirty ? ' (uncommitted changes)' : ''}`
            : 'not in a git repository'}
        </dd>
        <dt>Env variables</dt>
        <dd title={(environment.env_names ?? []).join('\n')}>
          {(environment.env_names ?? []).length} names recorded (values never
          are)
        </dd>
      </dl>
      <input
        className="jp-mlm-filter jp-mod-styled jp-mlm-package-search"
        placeholder="Search packages"
        value={query}
        onChange={event => setQuery(event.target.value)}
        aria-label="Search packages"
      />
      <div className="jp-mlm-muted">
        {shown.length} of {packages.length} packages ·{' '}
        {Object.keys(imported).length} modules imported by the run
      </div>
      <table className="jp-mlm-kv jp-mlm-packages">
        <tbody>
          {shown.map(([name, version]) => (
            <tr key={name}>
              <th>{name}</th>
              <td>
                <code>{version}</code>
              </td>
              <td>
                {name in imported ? (
                  <span className="jp-mlm-badge jp-mlm-badge-finished">
                    imported
                  </span>
                ) : null}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
