import { ReactWidget, UseSignal } from '@jupyterlab/ui-components';
import React from 'react';

import { RunsTable } from '../components/RunsTable';
import { mlmIcon } from '../icons';
import { MLMModel } from '../model';
import { IRun, RUNS_TABLE_ID } from '../tokens';

/** The runs table in the main area: same model as the sidebar, more room for columns. */
export class RunsTableWidget extends ReactWidget {
  constructor(
    private readonly _model: MLMModel,
    private readonly _openRun: (run: IRun) => void,
    private readonly _compare: (runs: IRun[]) => void
  ) {
    super();
    this.id = RUNS_TABLE_ID;
    this.addClass('jp-mlm-runs-widget');
    this.title.label = 'Runs';
    this.title.icon = mlmIcon;
    this.title.closable = true;
  }

  render(): JSX.Element {
    return (
      <UseSignal signal={this._model.changed}>
        {() => (
          <RunsTable
            model={this._model}
            onOpen={this._openRun}
            onCompare={this._compare}
            wide
          />
        )}
      </UseSignal>
    );
  }
}
