import { Clipboard } from '@jupyterlab/apputils';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import React, { useState } from 'react';

import { formatTime } from '../format';
import { messageOf, MLMModel } from '../model';
import { IRun } from '../tokens';
import { MimeBundle } from './NotebookView';

/** Rename, delete and restore a run, from its page. */
export function RunActions(props: {
  model: MLMModel;
  run: IRun;
  onChanged: (run: IRun | null, message: string) => void;
  onError: (message: string) => void;
}): JSX.Element {
  const { model, run, onChanged, onError } = props;
  const [renaming, setRenaming] = useState(false);
  const [name, setName] = useState(run.name);
  const [confirming, setConfirming] = useState(false);
  const deleted = run.deleted_ms !== null && run.deleted_ms !== undefined;

  // Each action reports its failure the same way: as the page's error line.
  const guarded = (action: () => Promise<void>) => async (): Promise<void> => {
    try {
      await action();
    } catch (err) {
      onError(messageOf(err));
    }
  };
  const rename = guarded(async () => {
    const renamed = await model.editRun(run.id, { name });
    setRenaming(false);
    onChanged(renamed, `Renamed to ${renamed.name}`);
  });
  const remove = guarded(async () => {
    await model.deleteRun(run.id);
    setConfirming(false);
    onChanged(null, 'Deleted: hidden from the runs table until restored');
  });
  const restore = guarded(async () => {
    await model.restoreRun(run.id);
    onChanged(null, 'Restored');
  });

  const snippet = loadSnippet(run);
  return (
    <div className="jp-mlm-run-actions">
      {deleted && (
        <div className="jp-mlm-warning jp-mlm-deleted-banner" role="status">
          Deleted {formatTime(run.deleted_ms!)}: hidden from the runs table,
          kept until <code>jupyter mlm runs purge</code>.{' '}
          <button
            className="jp-mlm-button jp-mod-styled jp-mlm-restore-run"
            onClick={() => void restore()}
          >
            Restore run
          </button>
        </div>
      )}
      {renaming ? (
        <span className="jp-mlm-rename-form">
          <input
            className="jp-mod-styled jp-mlm-rename-input"
            value={name}
            aria-label="New name"
            autoFocus
            onChange={event => setName(event.target.value)}
            onKeyDown={event => {
              if (event.key === 'Enter') {
                void rename();
              } else if (event.key === 'Escape') {
                setRenaming(false);
              }
            }}
          />
          <button
            className="jp-mlm-button jp-mod-styled jp-mlm-rename-save"
            disabled={!name.trim() || name === run.name}
            onClick={() => void rename()}
          >
            Save
          </button>
          <button
            className="jp-mlm-button jp-mod-styled"
            onClick={() => setRenaming(false)}
          >
            Cancel
          </button>
        </span>
      ) : (
        <button
          className="jp-mlm-button jp-mod-styled jp-mlm-rename"
          onClick={() => {
            setName(run.name);
            setRenaming(true);
          }}
        >
          Rename
        </button>
      )}
      <button
        className="jp-mlm-button jp-mod-styled jp-mlm-copy-snippet"
        title={snippet}
        data-snippet={snippet}
        onClick={() => {
          Clipboard.copyToSystem(snippet);
          onChanged(run, 'Copied: paste it into a notebook cell');
        }}
      >
        Copy load snippet
      </button>
      {!deleted &&
        (confirming ? (
          <span className="jp-mlm-confirm">
            Delete {run.name}?{' '}
            <button
              className="jp-mlm-button jp-mod-styled jp-mod-warn jp-mlm-delete-confirm"
              onClick={() => void remove()}
            >
              Delete
            </button>
            <button
              className="jp-mlm-button jp-mod-styled"
              onClick={() => setConfirming(false)}
            >
              Keep
            </button>
          </span>
        ) : (
          <button
            className="jp-mlm-button jp-mod-styled jp-mlm-delete"
            disabled={run.status === 'running'}
            title={
              run.status === 'running'
                ? 'End the run before deleting it'
                : 'Hide this run (restorable until purged)'
            }
            onClick={() => setConfirming(true)}
          >
            Delete
          </button>
        ))}
    </div>
  );
}

/** The run's note: markdown, rendered untrusted by JupyterLab's renderer; edited in place. */
export function RunNote(props: {
  model: MLMModel;
  run: IRun;
  rendermime: IRenderMimeRegistry | null;
  onChanged: (run: IRun) => void;
  onError: (message: string) => void;
}): JSX.Element {
  const { model, run, rendermime, onChanged, onError } = props;
  const note = run.note ?? '';
  const [editing, setEditing] = useState(false);
  const [text, setText] = useState(note);
  const save = async (): Promise<void> => {
    try {
      onChanged(await model.editRun(run.id, { note: text }));
      setEditing(false);
    } catch (err) {
      onError(messageOf(err));
    }
  };
  return (
    <section className="jp-mlm-section jp-mlm-note">
      <h3>
        Note{' '}
        {!editing && (
          <button
            className="jp-mlm-link jp-mlm-note-edit"
            onClick={() => {
              setText(note);
              setEditing(true);
            }}
          >
            {note ? 'edit' : 'add a note'}
          </button>
        )}
      </h3>
      {editing ? (
        <>
          <textarea
            className="jp-mod-styled jp-mlm-note-text"
            value={text}
            rows={6}
            aria-label="Note (markdown)"
            placeholder="Why this run, what it showed (markdown)"
            onChange={event => setText(event.target.value)}
          />
          <div>
            <button
              className="jp-mlm-button jp-mod-styled jp-mlm-note-save"
              onClick={() => void save()}
            >
              Save note
            </button>
            <button
              className="jp-mlm-button jp-mod-styled"
              onClick={() => setEditing(false)}
            >
              Cancel
            </button>
          </div>
        </>
      ) : note ? (
        rendermime ? (
          <div className="jp-mlm-note-view">
            <MimeBundle
              rendermime={rendermime}
              data={{ 'text/markdown': note }}
            />
          </div>
        ) : (
          <pre className="jp-mlm-note-view">{note}</pre>
        )
      ) : (
        <div className="jp-mlm-muted">none</div>
      )}
    </section>
  );
}

/** Add a tag (``key=value``) to a run. */
export function AddTag(props: {
  onAdd: (key: string, value: string) => Promise<void>;
}): JSX.Element {
  const [text, setText] = useState('');
  const [key, value] = [
    text.split('=')[0].trim(),
    text.split('=').slice(1).join('=')
  ];
  const valid = text.includes('=') && key !== '';
  return (
    <div className="jp-mlm-add-tag">
      <input
        className="jp-mod-styled jp-mlm-add-tag-input"
        placeholder="key=value"
        aria-label="New tag as key=value"
        value={text}
        onChange={event => setText(event.target.value)}
        onKeyDown={event => {
          if (event.key === 'Enter' && valid) {
            void props.onAdd(key, value).then(() => setText(''));
          }
        }}
      />
      <button
        className="jp-mlm-button jp-mod-styled jp-mlm-add-tag-button"
        disabled={!valid}
        onClick={() => void props.onAdd(key, value).then(() => setText(''))}
      >
        Add tag
      </button>
    </div>
  );
}

/** Python that reads this run back (and its artifacts), to paste into a notebook. */
export function loadSnippet(run: IRun): string {
  const lines = [
    'import jupyter_mlm as mlm',
    `run = mlm.get_run("${run.id}")  # ${run.name.replace(/[\r\n]/g, ' ')}`,
    'run.params, run.metrics, run.tags'
  ];
  if (run.artifacts.length > 0) {
    lines.push(
      'run.artifacts  # paths; run.download_artifact(path, "out/") copies one'
    );
  }
  return lines.join('\n');
}
