import React from 'react';

import { formatTime } from '../format';
import { MonitorModel } from '../monitor';
import { IMonitorStatus } from '../tokens';

export function MonitorBadge(props: {
  status: IMonitorStatus['status'];
}): JSX.Element {
  return (
    <span
      className={`jp-mlm-monitor-badge jp-mlm-monitor-${props.status.replace(' ', '-')}`}
      data-status={props.status}
    >
      {props.status}
    </span>
  );
}

/** The sidebar's Monitor tab: each monitored model with its status; a click opens its page. */
export function MonitorList(props: {
  monitor: MonitorModel;
  onOpen: (name: string) => void;
}): JSX.Element {
  const { monitor } = props;
  if (monitor.error) {
    return (
      <div className="jp-mlm-error" role="alert">
        {monitor.error}
      </div>
    );
  }
  if (monitor.loaded && monitor.models.length === 0) {
    return (
      <div className="jp-mlm-muted jp-mlm-empty">
        No model is monitored yet. Log production data with{' '}
        <code>mlm.monitor.log(&quot;churn&quot;, X, predictions=p)</code>.
      </div>
    );
  }
  return (
    <div className="jp-mlm-monitor-list">
      {monitor.models.map(m => (
        <div
          key={m.model}
          className="jp-mlm-model-row jp-mlm-monitor-row"
          data-model={m.model}
          role="button"
          tabIndex={0}
          onClick={() => props.onOpen(m.model)}
          onKeyDown={e => e.key === 'Enter' && props.onOpen(m.model)}
        >
          <div>
            <b>{m.model}</b> <MonitorBadge status={m.status} />
          </div>
          <div className="jp-mlm-muted">
            v{m.version ?? '?'} · {m.rows.toLocaleString()} rows · {m.alerts}{' '}
            alert{m.alerts === 1 ? '' : 's'}
            {m.last_batch_ms ? ` · last ${formatTime(m.last_batch_ms)}` : ''}
          </div>
        </div>
      ))}
    </div>
  );
}
