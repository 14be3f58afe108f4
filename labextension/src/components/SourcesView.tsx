import React, { useState } from 'react';

import { formatBytes } from '../format';
import { ISnapshot, ISourceFile } from '../tokens';

function relative(path: string, cwd: string | null): string {
  return cwd && path.startsWith(cwd + '/') ? path.slice(cwd.length + 1) : path;
}

/** The local Python files a run imported, each opened on demand, and their git diffs. */
export function SourcesView(props: {
  snapshot: ISnapshot;
  load: (index: number) => Promise<ISourceFile>;
}): JSX.Element {
  const { snapshot } = props;
  const [texts, setTexts] = useState<{ [index: number]: string }>({});
  const [error, setError] = useState<string | null>(null);
  if (snapshot.sources.length === 0) {
    return (
      <div className="jp-mlm-muted">
        No local source files: the run imported nothing from outside the
        interpreter and its packages.
      </div>
    );
  }
  const open = (index: number): void => {
    if (texts[index] !== undefined) {
      return;
    }
    props
      .load(index)
      .then(file => setTexts(t => ({ ...t, [index]: file.text ?? '' })))
      .catch(e => setError(e instanceof Error ? e.message : String(e)));
  };
  return (
    <div className="jp-mlm-sources">
      {error && (
        <div className="jp-mlm-error" role="alert">
          {error}
        </div>
      )}
      {snapshot.sources.map((file, index) => (
        <details
          key={file.path}
          className="jp-mlm-source-file"
          onToggle={e => (e.currentTarget.open ? open(index) : undefined)}
        >
          <summary>
            <code>{relative(file.path, snapshot.cwd)}</code>{' '}
            <span className="jp-mlm-muted">
              {file.module}, {formatBytes(file.size)},{' '}
              <code title={file.digest}>{file.digest.slice(0, 10)}</code>
            </span>
          </summary>
          <pre className="jp-mlm-source">{texts[index] ?? 'Loading…'}</pre>
        </details>
      ))}
      {snapshot.repositories.map(repo => (
        <section key={repo.root} className="jp-mlm-section">
          <h3>
            git {relative(repo.root, snapshot.cwd)}{' '}
            <span className="jp-mlm-muted">
              {repo.commit ? repo.commit.slice(0, 10) : 'no commit'}
            </span>
          </h3>
          {repo.diff ? (
            <pre className="jp-mlm-source jp-mlm-git-diff">
              {repo.diff}
              {repo.truncated ? '\n… (truncated)' : ''}
            </pre>
          ) : (
            <div className="jp-mlm-muted">
              no changes against the commit in these files
            </div>
          )}
        </section>
      ))}
    </div>
  );
}
