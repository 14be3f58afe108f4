import { ReactWidget, UseSignal } from '@jupyterlab/ui-components';
import React from 'react';

import { ModelPage } from '../components/ModelPage';
import { mlmIcon } from '../icons';
import { RegistryModel } from '../registry';
import { MODEL_PAGE_PREFIX } from '../tokens';

/** A registered model in the main area: versions, approvals, lineage, audit. */
export class ModelWidget extends ReactWidget {
  constructor(
    private readonly _registry: RegistryModel,
    readonly modelName: string,
    private readonly _openRun: (id: string, name: string) => void
  ) {
    super();
    this.id = `${MODEL_PAGE_PREFIX}${modelName}`;
    this.addClass('jp-mlm-model-widget');
    this.title.label = `Model ${modelName}`;
    this.title.icon = mlmIcon;
    this.title.closable = true;
  }

  render(): JSX.Element {
    return (
      <UseSignal signal={this._registry.changed}>
        {() => (
          <ModelPage
            registry={this._registry}
            name={this.modelName}
            onOpenRun={this._openRun}
          />
        )}
      </UseSignal>
    );
  }
}
