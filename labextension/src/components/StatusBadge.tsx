import React from 'react';

import { RunStatus } from '../tokens';

export function StatusBadge(props: { status: RunStatus }): JSX.Element {
  return (
    <span className={`jp-mlm-badge jp-mlm-badge-${props.status}`}>
      {props.status}
    </span>
  );
}
