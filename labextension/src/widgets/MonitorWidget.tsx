import { ReactWidget, UseSignal } from '@jupyterlab/ui-components';
import React from 'react';

import { MonitorPage } from '../components/MonitorPage';
import { mlmIcon } from '../icons';
import { MonitorPageModel } from '../monitor';
import { MONITOR_PAGE_PREFIX } from '../tokens';

/** A monitored model in the main area. */
export class MonitorWidget extends ReactWidget {
  constructor(readonly modelName: string) {
    super();
    this._model = new MonitorPageModel(modelName);
    this.id = `${MONITOR_PAGE_PREFIX}${modelName}`;
    this.addClass('jp-mlm-monitor-widget');
    this.title.label = `Monitor ${modelName}`;
    this.title.icon = mlmIcon;
    this.title.closable = true;
  }

  dispose(): void {
    this._model.dispose();
    super.dispose();
  }

  render(): JSX.Element {
    return (
      <UseSignal signal={this._model.changed}>
        {() => <MonitorPage model={this._model} />}
      </UseSignal>
    );
  }

  private _model: MonitorPageModel;
}
