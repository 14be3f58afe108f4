import React, { useEffect, useState } from 'react';

import { MLMModel } from '../model';
import { IRun } from '../tokens';

/** What the kernel keeps of a run's console (jupyter_mlm.tracking.console). */
export const OUTPUT_FILES: [string, string][] = [
  ['mlm/exception.txt', 'Exception'],
  ['mlm/stdout.txt', 'stdout'],
  ['mlm/stderr.txt', 'stderr']
];

export function outputCount(run: IRun): number {
  const paths = new Set(run.artifacts.map(a => a.path));
  return OUTPUT_FILES.filter(([path]) => paths.has(path)).length;
}

interface IRunOutputProps {
  model: MLMModel;
  run: IRun;
}

/** The run's console: the exception that failed it, then what it printed. */
export function RunOutput(props: IRunOutputProps): JSX.Element {
  const { model, run } = props;
  const [texts, setTexts] = useState<Record<string, string>>({});
  const [error, setError] = useState<string | null>(null);
  const present = OUTPUT_FILES.filter(([path]) =>
    run.artifacts.some(a => a.path === path)
  );
  const key = present.map(([path]) => path).join('|');

  useEffect(() => {
    let cancelled = false;
    Promise.all(
      present.map(async ([path]) => {
        const blob = await model.downloadArtifact(run.id, path);
        return [path, await blob.text()] as const;
      })
    )
      .then(pairs => {
        if (!cancelled) {
          setTexts(Object.fromEntries(pairs));
        }
      })
      .catch(err => !cancelled && setError(String(err?.message ?? err)));
    return () => {
      cancelled = true;
    };
  }, [run.id, key]);

  if (present.length === 0) {
    return (
      <div className="jp-mlm-muted jp-mlm-no-output">
        This run kept no console output: it printed nothing while it was active,
        or ran with capture off ($MLM_CAPTURE_OUTPUT=0).
      </div>
    );
  }
  return (
    <div className="jp-mlm-output">
      {error !== null && (
        <div className="jp-mlm-error" role="alert">
          {error}
        </div>
      )}
      {present.map(([path, label]) => (
        <section
          key={path}
          className="jp-mlm-section"
          data-output={label.toLowerCase()}
        >
          <h3>{label}</h3>
          <pre
            className={`jp-mlm-source jp-mlm-console${
              label === 'Exception' ? ' jp-mlm-console-error' : ''
            }${label === 'stderr' ? ' jp-mlm-stderr' : ''}`}
          >
            {texts[path] ?? 'Loading…'}
          </pre>
        </section>
      ))}
    </div>
  );
}
