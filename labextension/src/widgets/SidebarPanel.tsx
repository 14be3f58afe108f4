import { ReactWidget, UseSignal } from '@jupyterlab/ui-components';
import React from 'react';

import { StatusView } from '../components/StatusView';
import { mlmIcon } from '../icons';
import { MLMModel } from '../model';
import { SIDEBAR_ID } from '../tokens';

/**
 * The left-sidebar shell; it renders the model's state and refreshes when shown.
 */
export class SidebarPanel extends ReactWidget {
  constructor(readonly model: MLMModel) {
    super();
    this.id = SIDEBAR_ID;
    this.addClass('jp-mlm-sidebar');
    this.title.icon = mlmIcon;
    this.title.caption = 'Model management';
  }

  protected onAfterShow(): void {
    void this.model.refreshStatus();
  }

  render(): JSX.Element {
    return (
      <UseSignal signal={this.model.changed}>
        {() => (
          <StatusView
            status={this.model.status}
            error={this.model.error}
            onRefresh={() => void this.model.refreshStatus()}
          />
        )}
      </UseSignal>
    );
  }
}
