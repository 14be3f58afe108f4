import { IRenderMimeRegistry, MimeModel } from '@jupyterlab/rendermime';
import React, { useEffect, useRef } from 'react';

import { INotebookContent } from '../tokens';

function text(value: string | string[] | undefined): string {
  return Array.isArray(value) ? value.join('') : (value ?? '');
}

/** Renders one MIME bundle with JupyterLab's own renderers, untrusted (no script runs). */
export function MimeBundle(props: {
  rendermime: IRenderMimeRegistry;
  data: Record<string, unknown>;
}): JSX.Element {
  const host = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const element = host.current;
    const mimeType = props.rendermime.preferredMimeType(
      props.data as Record<string, string>,
      'ensure'
    );
    if (!element || !mimeType) {
      return;
    }
    const renderer = props.rendermime.createRenderer(mimeType);
    const model = new MimeModel({ data: props.data as never, trusted: false });
    void renderer.renderModel(model).then(() => {
      element.replaceChildren(renderer.node);
    });
    return () => renderer.dispose();
  }, [props.data]);
  return <div ref={host} className="jp-mlm-output" />;
}

export function NotebookView(props: {
  notebook: INotebookContent;
  rendermime: IRenderMimeRegistry;
}): JSX.Element {
  const { notebook, rendermime } = props;
  return (
    <div className="jp-mlm-notebook" aria-label="Notebook snapshot">
      {notebook.cells.map((cell, index) => (
        <div
          key={index}
          className={`jp-mlm-nbcell jp-mlm-nbcell-${cell.cell_type}`}
        >
          {cell.cell_type === 'markdown' ? (
            <MimeBundle
              rendermime={rendermime}
              data={{ 'text/markdown': text(cell.source) }}
            />
          ) : (
            <>
              <div className="jp-mlm-prompt">
                {cell.cell_type === 'code'
                  ? `[${cell.execution_count ?? ' '}]:`
                  : ''}
              </div>
              <pre className="jp-mlm-source">{text(cell.source)}</pre>
              {(cell.outputs ?? []).map((output, i) => {
                if (output.output_type === 'stream') {
                  return (
                    <pre key={i} className="jp-mlm-stream">
                      {text(output.text)}
                    </pre>
                  );
                }
                if (output.output_type === 'error') {
                  return (
                    <pre key={i} className="jp-mlm-stream jp-mlm-stderr">
                      {output.ename}: {output.evalue}
                    </pre>
                  );
                }
                return output.data ? (
                  <MimeBundle
                    key={i}
                    rendermime={rendermime}
                    data={output.data}
                  />
                ) : null;
              })}
            </>
          )}
        </div>
      ))}
    </div>
  );
}
