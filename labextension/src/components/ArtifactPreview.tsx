import React, { useEffect, useState } from 'react';

import { MLMModel } from '../model';
import { formatBytes } from '../format';

/** Artifacts larger than this are offered for download only. */
export const PREVIEW_MAX_BYTES = 5 * 1024 * 1024;
/** Text beyond this many characters is cut in a preview (the download has it all). */
const TEXT_MAX_CHARS = 200_000;
const CSV_ROWS = 20;

const IMAGE = /\.(png|jpe?g|gif|webp|svg|bmp)$/i;
const TEXT = /\.(txt|log|md|py|ya?ml|toml|cfg|ini|sh|sql|r|tex|rst|out|err)$/i;

export type PreviewKind = 'image' | 'text' | 'json' | 'csv' | 'html' | null;

export function previewKind(path: string): PreviewKind {
  if (IMAGE.test(path)) {
    return 'image';
  }
  if (/\.(json|ipynb)$/i.test(path)) {
    return 'json';
  }
  if (/\.(csv|tsv)$/i.test(path)) {
    return 'csv';
  }
  if (/\.html?$/i.test(path)) {
    return 'html';
  }
  return TEXT.test(path) ? 'text' : null;
}

/** Rows of a CSV (or TSV) text: quoted fields with commas, doubled quotes and line breaks. */
export function parseDelimited(
  text: string,
  delimiter: string,
  maxRows: number
): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length && rows.length < maxRows; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') {
        quoted = false;
      } else {
        field += c;
      }
    } else if (c === '"' && field === '') {
      quoted = true;
    } else if (c === delimiter) {
      row.push(field);
      field = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') {
        i++;
      }
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
    } else {
      field += c;
    }
  }
  if ((field !== '' || row.length > 0) && rows.length < maxRows) {
    row.push(field);
    rows.push(row);
  }
  return rows;
}

interface IArtifactPreviewProps {
  model: MLMModel;
  runId: string;
  path: string;
  size: number;
}

/**
 * An artifact shown in place: images, text, pretty JSON, the head of a CSV as a table, and HTML
 * in a sandboxed frame (no scripts, no same-origin access: a logged report cannot act as the
 * user in JupyterLab).
 */
export function ArtifactPreview(props: IArtifactPreviewProps): JSX.Element {
  const { model, runId, path, size } = props;
  const kind = previewKind(path);
  const [url, setUrl] = useState<string | null>(null);
  const [text, setText] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    if (kind === null || size > PREVIEW_MAX_BYTES) {
      return;
    }
    let objectUrl: string | null = null;
    let cancelled = false;
    model
      .downloadArtifact(runId, path)
      .then(async blob => {
        if (cancelled) {
          return;
        }
        if (kind === 'image') {
          const typed = path.toLowerCase().endsWith('.svg')
            ? new Blob([blob], { type: 'image/svg+xml' })
            : blob;
          objectUrl = URL.createObjectURL(typed);
          setUrl(objectUrl);
        } else {
          setText(await blob.text());
        }
      })
      .catch(err => setError(String(err?.message ?? err)));
    return () => {
      cancelled = true;
      if (objectUrl !== null) {
        URL.revokeObjectURL(objectUrl);
      }
    };
  }, [runId, path, kind, size]);

  if (kind === null) {
    return (
      <div className="jp-mlm-muted jp-mlm-preview">
        No preview for this kind of file: download it.
      </div>
    );
  }
  if (size > PREVIEW_MAX_BYTES) {
    return (
      <div className="jp-mlm-muted jp-mlm-preview">
        {formatBytes(size)} is too large to preview (over{' '}
        {formatBytes(PREVIEW_MAX_BYTES)}): download it.
      </div>
    );
  }
  if (error !== null) {
    return (
      <div className="jp-mlm-error jp-mlm-preview" role="alert">
        {error}
      </div>
    );
  }
  if (kind === 'image') {
    return url === null ? (
      <div className="jp-mlm-muted jp-mlm-preview">Loading…</div>
    ) : (
      <div className="jp-mlm-preview" data-kind="image">
        <img src={url} alt={path} className="jp-mlm-preview-image" />
      </div>
    );
  }
  if (text === null) {
    return <div className="jp-mlm-muted jp-mlm-preview">Loading…</div>;
  }
  if (kind === 'html') {
    return (
      <div className="jp-mlm-preview" data-kind="html">
        <iframe
          className="jp-mlm-preview-frame"
          sandbox=""
          srcDoc={text}
          title={path}
        />
      </div>
    );
  }
  if (kind === 'csv') {
    const delimiter = path.toLowerCase().endsWith('.tsv') ? '\t' : ',';
    const rows = parseDelimited(text, delimiter, CSV_ROWS + 1);
    const [header, ...body] = rows;
    return (
      <div className="jp-mlm-preview" data-kind="csv">
        <table className="jp-mlm-table jp-mlm-preview-table">
          <thead>
            <tr>
              {(header ?? []).map((cell, i) => (
                <th key={i}>{cell}</th>
              ))}
            </tr>
          </thead>
          <tbody>
            {body.map((row, r) => (
              <tr key={r}>
                {row.map((cell, i) => (
                  <td key={i}>{cell}</td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
        <div className="jp-mlm-muted">
          the first {Math.min(body.length, CSV_ROWS)} rows
        </div>
      </div>
    );
  }
  let shown = text;
  if (kind === 'json') {
    try {
      shown = JSON.stringify(JSON.parse(text), null, 2);
    } catch {
      shown = text; // not valid JSON: shown as it is
    }
  }
  const cut = shown.length > TEXT_MAX_CHARS;
  return (
    <div className="jp-mlm-preview" data-kind={kind}>
      <pre className="jp-mlm-source jp-mlm-preview-text">
        {cut ? shown.slice(0, TEXT_MAX_CHARS) : shown}
      </pre>
      {cut && (
        <div className="jp-mlm-muted">
          the first {TEXT_MAX_CHARS.toLocaleString()} characters of{' '}
          {shown.length.toLocaleString()}
        </div>
      )}
    </div>
  );
}
