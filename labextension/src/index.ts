import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { MainAreaWidget } from '@jupyterlab/apputils';

import { MLMModel } from './model';
import { CommandIDs, IRun, RUN_DETAIL_PREFIX, RUNS_TABLE_ID } from './tokens';
import { RunDetailWidget } from './widgets/RunDetailWidget';
import { RunsTableWidget } from './widgets/RunsTableWidget';
import { SidebarPanel } from './widgets/SidebarPanel';

const sidebarPlugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyter-mlm:sidebar',
  description: 'Model management sidebar: runs, run detail, store status.',
  autoStart: true,
  optional: [ILayoutRestorer],
  activate: (app: JupyterFrontEnd, restorer: ILayoutRestorer | null) => {
    const model = new MLMModel();

    app.commands.addCommand(CommandIDs.openRun, {
      label: 'Open Run',
      execute: args => {
        const runId = String(args.id);
        const name = String(args.name ?? runId.slice(0, 8));
        const id = `${RUN_DETAIL_PREFIX}${runId}`;
        const existing = [...app.shell.widgets('main')].find(w => w.id === id);
        if (existing) {
          app.shell.activateById(id);
          return;
        }
        const content = new RunDetailWidget(model, runId, name);
        const widget = new MainAreaWidget({ content });
        widget.id = id;
        widget.title.label = content.title.label;
        widget.title.icon = content.title.icon;
        widget.title.closable = true;
        app.shell.add(widget, 'main');
        app.shell.activateById(id);
      }
    });

    const openRun = (run: IRun): void => {
      void app.commands.execute(CommandIDs.openRun, {
        id: run.id,
        name: run.name
      });
    };
    app.commands.addCommand(CommandIDs.openRunsTable, {
      label: 'Open Runs Table',
      execute: () => {
        const existing = [...app.shell.widgets('main')].find(
          w => w.id === RUNS_TABLE_ID
        );
        if (!existing) {
          const content = new RunsTableWidget(model, openRun);
          const widget = new MainAreaWidget({ content });
          widget.id = RUNS_TABLE_ID;
          widget.title.label = content.title.label;
          widget.title.icon = content.title.icon;
          widget.title.closable = true;
          app.shell.add(widget, 'main');
        }
        app.shell.activateById(RUNS_TABLE_ID);
      }
    });

    const panel = new SidebarPanel(model, openRun, () => {
      void app.commands.execute(CommandIDs.openRunsTable);
    });
    app.shell.add(panel, 'left', { rank: 600 });
    if (restorer) {
      restorer.add(panel, panel.id);
    }
    void model.refreshStatus();
    model.setQuery({});
  }
};

export default [sidebarPlugin];
