import { ReactWidget, UseSignal } from '@jupyterlab/ui-components';
import React from 'react';

import { Sidebar } from '../components/Sidebar';
import { mlmIcon } from '../icons';
import { MLMModel } from '../model';
import { MonitorModel } from '../monitor';
import { RegistryModel } from '../registry';
import { IRun, SIDEBAR_ID } from '../tokens';

/**
 * The left-sidebar shell: renders the model's state; polls only while it is visible.
 */
export class SidebarPanel extends ReactWidget {
  constructor(
    readonly model: MLMModel,
    private readonly _openRun: (run: IRun) => void,
    private readonly _openTable: () => void,
    private readonly _compare: (runs: IRun[]) => void,
    readonly registry: RegistryModel,
    private readonly _openModel: (name: string) => void,
    readonly monitor: MonitorModel,
    private readonly _openMonitor: (name: string) => void
  ) {
    super();
    this.id = SIDEBAR_ID;
    this.addClass('jp-mlm-sidebar');
    this.title.icon = mlmIcon;
    this.title.caption = 'Model management';
  }

  protected onAfterShow(): void {
    void this.model.refreshStatus();
    void this.model.refreshVisible();
    this.model.startPolling();
  }

  protected onAfterHide(): void {
    this.model.stopPolling();
    this.monitor.stop();
  }

  render(): JSX.Element {
    return (
      <UseSignal signal={this.model.changed}>
        {() => (
          <UseSignal signal={this.registry.changed}>
            {() => (
              <UseSignal signal={this.monitor.changed}>
                {() => (
                  <Sidebar
                    model={this.model}
                    registry={this.registry}
                    monitor={this.monitor}
                    onOpenModel={this._openModel}
                    onOpenMonitor={this._openMonitor}
                    onOpenRun={this._openRun}
                    onOpenTable={this._openTable}
                    onCompare={this._compare}
                  />
                )}
              </UseSignal>
            )}
          </UseSignal>
        )}
      </UseSignal>
    );
  }
}
