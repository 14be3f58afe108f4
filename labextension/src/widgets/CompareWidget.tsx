import { CodeEditor } from '@jupyterlab/codeeditor';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { ReactWidget } from '@jupyterlab/ui-components';
import { Panel, Widget } from '@lumino/widgets';
import React from 'react';

import { CompareView } from '../components/CompareView';
import { mlmIcon } from '../icons';
import { MLMModel } from '../model';
import { COMPARE_PREFIX, IRun, IRunDiff } from '../tokens';

/**
 * Compare: a React summary on top and, for two runs, nbdime's own notebook diff widget below.
 * nbdime is imported on demand so it costs nothing until a notebook diff is shown.
 */
export class CompareWidget extends Panel {
  constructor(
    private readonly _model: MLMModel,
    readonly runs: IRun[],
    private readonly _rendermime: IRenderMimeRegistry | null,
    private readonly _editorFactory: CodeEditor.Factory | null
  ) {
    super();
    this.id = `${COMPARE_PREFIX}${runs.map(r => r.id.slice(0, 8)).join('-')}`;
    this.addClass('jp-mlm-compare-widget');
    this.title.label = `Compare ${runs.map(r => r.name).join(' · ')}`;
    this.title.icon = mlmIcon;
    this.title.closable = true;
    const summary = ReactWidget.create(
      <CompareView
        model={this._model}
        runs={runs}
        onDiff={diff =>
          this._showNotebookDiff(diff).catch(error => {
            const message = new Widget();
            message.addClass('jp-mlm-error');
            message.node.textContent = `Cannot show the notebook diff: ${String(error)}`;
            this.addWidget(message);
          })
        }
      />
    );
    this.addWidget(summary);
  }

  private async _showNotebookDiff(diff: IRunDiff): Promise<void> {
    if (!diff.notebook || !diff.notebook.base || !this._rendermime) {
      return;
    }
    const [{ NotebookDiffModel }, { NotebookDiffWidget }] = await Promise.all([
      import('nbdime/lib/diff/model'),
      import('nbdime/lib/diff/widget')
    ]);
    const model = new NotebookDiffModel(
      diff.notebook.base as never,
      diff.notebook.diff as never
    );
    const widget = new NotebookDiffWidget({
      model,
      rendermime: this._rendermime,
      ...(this._editorFactory ? { editorFactory: this._editorFactory } : {})
    });
    const host = new Panel();
    host.addClass('jp-mlm-nbdime');
    host.addClass('nbdime-root');
    host.addWidget(widget as unknown as Widget);
    this.addWidget(host);
    await widget.init();
  }
}
