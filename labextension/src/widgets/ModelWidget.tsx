import { ReactWidget, UseSignal } from '@jupyterlab/ui-components';
import React from 'react';

import { ModelPage } from '../components/ModelPage';
import { mlmIcon } from '../icons';
import { ModelPageModel } from '../modelpage';
import { RegistryModel } from '../registry';
import { MODEL_PAGE_PREFIX } from '../tokens';

/** A registered model in the main area: versions, approvals, lineage, audit. */
export class ModelWidget extends ReactWidget {
  constructor(
    registry: RegistryModel,
    readonly modelName: string,
    private readonly _openRun: (id: string, name: string) => void
  ) {
    super();
    this._model = new ModelPageModel(registry, modelName);
    if (!registry.me) {
      void registry.refresh();
    }
    this.id = `${MODEL_PAGE_PREFIX}${modelName}`;
    this.addClass('jp-mlm-model-widget');
    this.title.label = `Model ${modelName}`;
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
        {() => <ModelPage model={this._model} onOpenRun={this._openRun} />}
      </UseSignal>
    );
  }

  private _model: ModelPageModel;
}
