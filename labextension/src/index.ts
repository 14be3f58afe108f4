import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';

import { MLMModel } from './model';
import { SidebarPanel } from './widgets/SidebarPanel';

const sidebarPlugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyter-mlm:sidebar',
  description: 'Model management sidebar: store status, runs, registry.',
  autoStart: true,
  optional: [ILayoutRestorer],
  activate: (app: JupyterFrontEnd, restorer: ILayoutRestorer | null) => {
    const model = new MLMModel();
    const panel = new SidebarPanel(model);
    app.shell.add(panel, 'left', { rank: 600 });
    if (restorer) {
      restorer.add(panel, panel.id);
    }
    void model.refreshStatus();
  }
};

export default [sidebarPlugin];
