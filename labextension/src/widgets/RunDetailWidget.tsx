import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { ReactWidget } from '@jupyterlab/ui-components';
import React from 'react';

import { RunDetail } from '../components/RunDetail';
import { mlmIcon } from '../icons';
import { MLMModel } from '../model';
import { INotebookContent, IRun, RUN_DETAIL_PREFIX } from '../tokens';

export class RunDetailWidget extends ReactWidget {
  constructor(
    private readonly _model: MLMModel,
    readonly runId: string,
    runName: string,
    private readonly _rendermime: IRenderMimeRegistry | null,
    private readonly _onRestore: (
      run: IRun,
      notebook: INotebookContent
    ) => Promise<string>,
    private readonly _onOpenRun: (id: string, name: string) => void
  ) {
    super();
    this.id = `${RUN_DETAIL_PREFIX}${runId}`;
    this.addClass('jp-mlm-detail-widget');
    this.title.label = `Run: ${runName}`;
    this.title.icon = mlmIcon;
    this.title.closable = true;
  }

  render(): JSX.Element {
    return (
      <RunDetail
        model={this._model}
        runId={this.runId}
        rendermime={this._rendermime}
        onRestore={this._onRestore}
        onOpenRun={this._onOpenRun}
        onName={name => {
          // The main-area tab follows this title: a renamed run's tab says its new name.
          this.title.label = `Run: ${name}`;
        }}
      />
    );
  }
}
