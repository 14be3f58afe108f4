import React from 'react';

import { formatBytes } from '../format';
import { IStoreStatus } from '../tokens';

export interface IStatusViewProps {
  status: IStoreStatus | null;
  error: string | null;
}

export function StatusView(props: IStatusViewProps): JSX.Element {
  const { status, error } = props;
  return (
    <div className="jp-mlm-status">
      {error !== null && (
        <div className="jp-mlm-error" role="alert">
          {error}
        </div>
      )}
      {status === null && error === null && (
        <div className="jp-mlm-muted">Loading…</div>
      )}
      {status !== null && (
        <dl className="jp-mlm-facts">
          <dt>Store</dt>
          <dd className="jp-mlm-store-uri" title={status.store_uri}>
            {status.store_uri}
          </dd>
          <dt>Objects</dt>
          <dd title={status.objects_uri}>{status.objects_uri}</dd>
          <dt>Backend</dt>
          <dd>{status.backend}</dd>
          <dt>Schema</dt>
          <dd className="jp-mlm-schema">{status.schema_version}</dd>
          <dt>Experiments</dt>
          <dd className="jp-mlm-count-experiments">{status.experiments}</dd>
          <dt>Runs</dt>
          <dd className="jp-mlm-count-runs">{status.runs}</dd>
          <dt>Models</dt>
          <dd className="jp-mlm-count-models">{status.models}</dd>
          <dt>Stored objects</dt>
          <dd>
            {status.objects} ({formatBytes(status.object_bytes)})
          </dd>
          <dt>Version</dt>
          <dd>{status.version}</dd>
        </dl>
      )}
    </div>
  );
}
