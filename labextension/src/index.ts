import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette, MainAreaWidget } from '@jupyterlab/apputils';
import { ILauncher } from '@jupyterlab/launcher';
import { IMainMenu } from '@jupyterlab/mainmenu';
import { Widget } from '@lumino/widgets';
import { IEditorServices } from '@jupyterlab/codeeditor';
import { INotebookTracker } from '@jupyterlab/notebook';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { IStateDB } from '@jupyterlab/statedb';

import { LiveNotebookSync } from './livesync';

import { MLMModel } from './model';
import { RegistryModel } from './registry';
import {
  CommandIDs,
  INotebookContent,
  IRun,
  MODEL_PAGE_PREFIX,
  MONITOR_PAGE_PREFIX,
  RUN_DETAIL_PREFIX,
  RUNS_TABLE_ID
} from './tokens';
import { CompareWidget } from './widgets/CompareWidget';
import { ModelWidget } from './widgets/ModelWidget';
import { MonitorWidget } from './widgets/MonitorWidget';
import { MonitorModel } from './monitor';
import { RunDetailWidget } from './widgets/RunDetailWidget';
import { RunsTableWidget } from './widgets/RunsTableWidget';
import { HELP_ID, HelpWidget } from './widgets/HelpWidget';
import { SidebarPanel } from './widgets/SidebarPanel';
import { mlmIcon } from './icons';

const sidebarPlugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyter-mlm:sidebar',
  description: 'Model management sidebar: runs, run detail, store status.',
  autoStart: true,
  optional: [
    ILayoutRestorer,
    INotebookTracker,
    IRenderMimeRegistry,
    IEditorServices,
    IStateDB,
    ICommandPalette,
    IMainMenu,
    ILauncher
  ],
  activate: (
    app: JupyterFrontEnd,
    restorer: ILayoutRestorer | null,
    notebooks: INotebookTracker | null,
    rendermime: IRenderMimeRegistry | null,
    editorServices: IEditorServices | null,
    state: IStateDB | null,
    palette: ICommandPalette | null,
    mainMenu: IMainMenu | null,
    launcher: ILauncher | null
  ) => {
    const model = new MLMModel();
    if (state) {
      void model.attachState(state);
    }
    if (notebooks) {
      new LiveNotebookSync(model, notebooks);
    }

    const restoreNotebook = async (
      run: IRun,
      content: INotebookContent
    ): Promise<string> => {
      const stem = (run.notebook_path ?? run.name)
        .split('/')
        .pop()!
        .replace(/\.ipynb$/, '');
      const contents = app.serviceManager.contents;
      let path = `${stem}.restored-${run.id.slice(0, 8)}.ipynb`;
      for (let n = 2; ; n++) {
        try {
          await contents.get(path, { content: false });
          path = `${stem}.restored-${run.id.slice(0, 8)}-${n}.ipynb`;
        } catch {
          break;
        }
      }
      await contents.save(path, { type: 'notebook', format: 'json', content });
      await app.commands.execute('docmanager:open', { path });
      return path;
    };

    /** Wraps a view in a closable main-area tab that carries the view's title and icon. */
    const addToMain = (content: Widget, id: string): void => {
      const widget = new MainAreaWidget({ content });
      widget.id = id;
      widget.title.label = content.title.label;
      widget.title.icon = content.title.icon;
      widget.title.closable = true;
      app.shell.add(widget, 'main');
    };

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
        const content = new RunDetailWidget(
          model,
          runId,
          name,
          rendermime,
          restoreNotebook,
          (parentId, parentName) =>
            void app.commands.execute(CommandIDs.openRun, {
              id: parentId,
              name: parentName
            })
        );
        addToMain(content, id);
        app.shell.activateById(id);
      }
    });

    const openRun = (run: IRun): void => {
      void app.commands.execute(CommandIDs.openRun, {
        id: run.id,
        name: run.name
      });
    };
    const compare = (runs: IRun[]): void => {
      const content = new CompareWidget(
        model,
        runs,
        rendermime,
        editorServices?.factoryService.newInlineEditor ?? null
      );
      const existing = [...app.shell.widgets('main')].find(
        w => w.id === content.id
      );
      if (existing) {
        content.dispose();
        app.shell.activateById(existing.id);
        return;
      }
      addToMain(content, content.id);
      app.shell.activateById(content.id);
    };

    app.commands.addCommand(CommandIDs.openRunsTable, {
      label: 'Runs Table',
      caption: 'Every run of this store: filter, sort, compare',
      icon: mlmIcon,
      execute: () => {
        const existing = [...app.shell.widgets('main')].find(
          w => w.id === RUNS_TABLE_ID
        );
        if (!existing) {
          const content = new RunsTableWidget(model, openRun, compare);
          addToMain(content, RUNS_TABLE_ID);
        }
        app.shell.activateById(RUNS_TABLE_ID);
      }
    });

    const registry = new RegistryModel();
    app.commands.addCommand(CommandIDs.openModel, {
      label: 'Open Registered Model',
      execute: args => {
        const name = String(args.name);
        const id = `${MODEL_PAGE_PREFIX}${name}`;
        const existing = [...app.shell.widgets('main')].find(w => w.id === id);
        if (!existing) {
          const content = new ModelWidget(registry, name, (runId, runName) => {
            void app.commands.execute(CommandIDs.openRun, {
              id: runId,
              name: runName
            });
          });
          addToMain(content, id);
        }
        app.shell.activateById(id);
      }
    });

    app.commands.addCommand(CommandIDs.openMonitor, {
      label: 'Open Model Monitoring',
      execute: args => {
        const name = String(args.name);
        const id = `${MONITOR_PAGE_PREFIX}${name}`;
        if (![...app.shell.widgets('main')].find(w => w.id === id)) {
          addToMain(new MonitorWidget(name), id);
        }
        app.shell.activateById(id);
      }
    });

    const monitor = new MonitorModel();
    const panel = new SidebarPanel(
      model,
      openRun,
      () => {
        void app.commands.execute(CommandIDs.openRunsTable);
      },
      compare,
      registry,
      name => {
        void app.commands.execute(CommandIDs.openModel, { name });
      },
      monitor,
      name => {
        void app.commands.execute(CommandIDs.openMonitor, { name });
      }
    );
    app.shell.add(panel, 'left', { rank: 600 });
    if (restorer) {
      restorer.add(panel, panel.id);
    }
    void model.refreshStatus();
    model.setQuery({});

    // Where a newcomer looks: the command palette, the View and Help menus, the Launcher.
    app.commands.addCommand(CommandIDs.showSidebar, {
      label: 'Model Management Sidebar',
      caption: 'Runs, registry, monitoring and store of this notebook folder',
      icon: mlmIcon,
      execute: () => app.shell.activateById(panel.id)
    });
    app.commands.addCommand(CommandIDs.refresh, {
      label: 'Refresh Model Management',
      execute: () => {
        void model.refreshStatus();
        void model.refreshVisible();
        void registry.refresh();
      }
    });
    app.commands.addCommand(CommandIDs.help, {
      label: 'Model Management Guide',
      caption:
        'The README of this jupyter_mlm version: magics, API, filters, CLI',
      icon: mlmIcon,
      execute: () => {
        if (![...app.shell.widgets('main')].find(w => w.id === HELP_ID)) {
          addToMain(new HelpWidget(rendermime), HELP_ID);
        }
        app.shell.activateById(HELP_ID);
      }
    });
    if (palette) {
      const category = 'Model Management';
      for (const command of [
        CommandIDs.showSidebar,
        CommandIDs.openRunsTable,
        CommandIDs.refresh,
        CommandIDs.help
      ]) {
        palette.addItem({ command, category });
      }
    }
    if (mainMenu) {
      mainMenu.viewMenu.addGroup(
        [
          { command: CommandIDs.showSidebar },
          { command: CommandIDs.openRunsTable }
        ],
        60
      );
      mainMenu.helpMenu.addGroup([{ command: CommandIDs.help }], 60);
    }
    if (launcher) {
      launcher.add({
        command: CommandIDs.openRunsTable,
        category: 'Other',
        rank: 1
      });
    }
  }
};

export default [sidebarPlugin];
