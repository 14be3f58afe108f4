import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { ReactWidget } from '@jupyterlab/ui-components';
import React, { useEffect, useState } from 'react';

import { MimeBundle } from '../components/NotebookView';
import { mlmIcon } from '../icons';
import { messageOf } from '../model';
import { requestAPI } from '../request';

export const HELP_ID = 'jupyter-mlm-help';

function Help(props: { rendermime: IRenderMimeRegistry | null }): JSX.Element {
  const [markdown, setMarkdown] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    requestAPI<{ markdown: string }>('help')
      .then(body => setMarkdown(body.markdown))
      .catch(err => setError(messageOf(err)));
  }, []);
  if (error !== null) {
    return <div className="jp-mlm-error">{error}</div>;
  }
  if (markdown === null) {
    return <div className="jp-mlm-muted">Loading the guide…</div>;
  }
  return props.rendermime ? (
    <MimeBundle
      rendermime={props.rendermime}
      data={{ 'text/markdown': markdown }}
    />
  ) : (
    <pre>{markdown}</pre>
  );
}

/** The README of the installed version, rendered (Help ▸ Model management guide). */
export class HelpWidget extends ReactWidget {
  constructor(private readonly _rendermime: IRenderMimeRegistry | null) {
    super();
    this.id = HELP_ID;
    this.addClass('jp-mlm-help');
    this.title.label = 'Model management guide';
    this.title.icon = mlmIcon;
    this.title.closable = true;
  }

  render(): JSX.Element {
    return <Help rendermime={this._rendermime} />;
  }
}
