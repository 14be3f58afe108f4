import React, { useState } from 'react';

import { MLMModel } from '../model';
import { MonitorModel } from '../monitor';
import { RegistryModel } from '../registry';
import { IRun } from '../tokens';
import { MonitorList } from './MonitorList';
import { RegistryList } from './RegistryList';
import { RunsTable } from './RunsTable';
import { StatusView } from './StatusView';

type Tab = 'runs' | 'registry' | 'monitor' | 'store';

export interface ISidebarProps {
  model: MLMModel;
  registry: RegistryModel;
  monitor: MonitorModel;
  onOpenModel: (name: string) => void;
  onOpenMonitor: (name: string) => void;
  onOpenRun: (run: IRun) => void;
  onOpenTable: () => void;
  onCompare: (runs: IRun[]) => void;
}

export function Sidebar(props: ISidebarProps): JSX.Element {
  const {
    model,
    registry,
    monitor,
    onOpenModel,
    onOpenRun,
    onOpenTable,
    onCompare
  } = props;
  const [tab, setTab] = useState<Tab>('runs');
  const tabs: [Tab, string][] = [
    ['runs', 'Runs'],
    ['registry', 'Registry'],
    ['monitor', 'Monitor'],
    ['store', 'Store']
  ];
  return (
    <div className="jp-mlm-panel">
      <div className="jp-mlm-panel-header">
        <h2 className="jp-mlm-title">Model management</h2>
        <div className="jp-mlm-actions">
          <button
            className="jp-mlm-button jp-mod-styled"
            onClick={onOpenTable}
            title="Open the runs table in the main area, with room for more columns"
          >
            Expand
          </button>
          <button
            className="jp-mlm-button jp-mod-styled"
            onClick={() => {
              void model.refreshStatus();
              void model.refreshVisible();
              void registry.refresh();
            }}
            title="Refresh"
          >
            Refresh
          </button>
        </div>
      </div>
      <div className="jp-mlm-tabs" role="tablist">
        {tabs.map(([id, label]) => (
          <button
            key={id}
            role="tab"
            aria-selected={tab === id}
            className={`jp-mlm-tab${tab === id ? ' jp-mod-active' : ''}`}
            onClick={() => {
              setTab(id);
              if (id === 'store') {
                void model.refreshStatus();
              }
              if (id === 'registry') {
                void registry.refresh();
              }
              if (id === 'monitor') {
                monitor.start();
              } else {
                monitor.stop();
              }
            }}
          >
            {label}
          </button>
        ))}
      </div>
      {tab === 'runs' ? (
        <RunsTable model={model} onOpen={onOpenRun} onCompare={onCompare} />
      ) : tab === 'registry' ? (
        <RegistryList registry={registry} onOpenModel={onOpenModel} />
      ) : tab === 'monitor' ? (
        <MonitorList monitor={monitor} onOpen={props.onOpenMonitor} />
      ) : (
        <StatusView status={model.status} error={model.statusError} />
      )}
    </div>
  );
}
