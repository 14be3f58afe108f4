/**
 * Wire types of the /mlm/api REST API: the single source of truth on the TypeScript side.
 * They mirror jupyter_mlm/server/handlers/wire.py.
 */

export interface IStoreStatus {
  store_uri: string;
  objects_uri: string;
  backend: 'sqlite' | 'postgresql';
  schema_version: string;
  experiments: number;
  runs: number;
  models: number;
  objects: number;
  object_bytes: number;
  version: string;
}

/** JSON cannot carry NaN or infinities; the server sends them as these strings. */
export type WireNumber = number | 'NaN' | 'Infinity' | '-Infinity';

export type RunStatus =
  'running' | 'finished' | 'failed' | 'killed' | 'crashed';

export interface IMetricValue {
  value: WireNumber;
  step: number;
  timestamp_ms: number;
  count?: number;
}

export interface IArtifact {
  path: string;
  size: number;
  digest: string;
  created_ms: number;
}

export interface IRun {
  id: string;
  name: string;
  experiment: string;
  experiment_id: string;
  status: RunStatus;
  start_ms: number;
  end_ms: number | null;
  user: string;
  host: string;
  notebook_path: string | null;
  kernel_id: string | null;
  parent_id: string | null;
  params: Record<string, string>;
  metrics: Record<string, IMetricValue>;
  tags: Record<string, string>;
  artifacts: IArtifact[];
  /** Deleted softly (restorable until purged) when set. */
  deleted_ms?: number | null;
  /** A markdown note, "" when none. */
  note?: string;
  /** On a single run (GET runs/{id}): how many snapshots it has, and its parent's name. */
  snapshots?: number;
  parent?: { id: string; name: string } | null;
  /** In a tree listing: how many of its children match the query. */
  children?: number;
}

/** A metric's last values over a group of runs (NaN left out). */
export interface IMetricSummary {
  count: number;
  mean: WireNumber | null;
  min: WireNumber | null;
  max: WireNumber | null;
}

/** The runs sharing one value of the grouped field (null: the runs without it). */
export interface IRunGroup {
  value: string | null;
  runs: number;
  metrics: Record<string, IMetricSummary>;
}

export interface IRunGroups {
  by: string;
  groups: IRunGroup[];
  /** How many values there are in all (at most 1,000 groups come back). */
  total: number;
}

export interface IRunList {
  runs: IRun[];
  total: number;
  offset: number;
  limit: number;
  experiments: string[];
  /** On the first page: param and metric names of the whole result, most common first. */
  keys?: { params: string[]; metrics: string[]; tags?: string[] };
  /** With tree=true: matching children per run of the page (runs without any left out). */
  children?: Record<string, number>;
}

export interface IMetricSeries {
  run_id: string;
  key: string;
  total: number;
  steps: number[];
  values: WireNumber[];
  timestamps: number[];
}

export const SIDEBAR_ID = 'jupyter-mlm-sidebar';
export const RUN_DETAIL_PREFIX = 'jupyter-mlm-run-';
export const RUNS_TABLE_ID = 'jupyter-mlm-runs-table';

export const CommandIDs = {
  openRun: 'jupyter-mlm:open-run',
  openRunsTable: 'jupyter-mlm:open-runs-table',
  openModel: 'jupyter-mlm:open-model',
  openMonitor: 'jupyter-mlm:open-monitor',
  refresh: 'jupyter-mlm:refresh',
  showSidebar: 'jupyter-mlm:show-sidebar',
  help: 'jupyter-mlm:help'
};

export function toNumber(value: WireNumber): number {
  return typeof value === 'number' ? value : Number(value);
}

export interface IExecution {
  order: number;
  cell_id: string | null;
  start_ms: number;
  duration_ms: number;
  success: boolean | null;
  in_run: boolean;
  source: string;
}

export interface IDataEntry {
  path: string;
  kind: 'file' | 'folder';
  digest: string;
  size: number;
  mtime_ns: number | null;
  files: number;
  stored: boolean;
}

export interface IEnvironment {
  python?: { version: string; implementation: string; executable: string };
  platform?: {
    system: string;
    release: string;
    machine: string;
    platform: string;
  };
  cpu_count?: number;
  gpus?: string[];
  packages?: Record<string, string>;
  imported?: Record<string, string>;
  git?: {
    commit: string;
    branch: string | null;
    dirty: boolean;
    root: string | null;
  } | null;
  env_names?: string[];
}

export interface ISnapshot {
  id: string;
  phase: 'start' | 'live' | 'end' | 'exit';
  created_ms: number;
  notebook: { path: string; source: 'live' | 'live-earlier' | 'disk' } | null;
  executions: IExecution[];
  environment: IEnvironment;
  data: IDataEntry[];
  out_of_order: boolean;
  out_of_order_reasons: string[];
  snapshots: { id: string; phase: string; created_ms: number }[];
  /** The kernel's working folder (the notebook's folder in Jupyter). */
  cwd: string | null;
  /** Local Python files the run imported, stored with the snapshot. */
  sources: ISourceFile[];
  repositories: {
    root: string;
    commit: string | null;
    diff: string | null;
    truncated: boolean;
  }[];
}

export interface ISourceFile {
  path: string;
  module: string;
  digest: string;
  size: number;
  /** Only when one file is fetched. */
  text?: string;
}

export interface IDataCheck {
  run_id: string;
  data: {
    path: string;
    kind: string;
    status: 'unchanged' | 'changed' | 'missing';
    old: string;
    new: string | null;
  }[];
}

export interface INotebookContent {
  cells: {
    cell_type: 'code' | 'markdown' | 'raw';
    source: string | string[];
    outputs?: {
      output_type: string;
      text?: string | string[];
      data?: Record<string, unknown>;
      ename?: string;
      evalue?: string;
    }[];
    execution_count?: number | null;
  }[];
  metadata: Record<string, unknown>;
  nbformat: number;
  nbformat_minor: number;
}

export interface IKeyedDiff {
  added: Record<string, string>;
  removed: Record<string, string>;
  changed: Record<string, [string, string]>;
}

export interface IMetricDiff {
  key: string;
  a: number | null;
  b: number | null;
  delta: number | null;
  relative: number | null;
  direction: 'min' | 'max' | null;
  verdict: 'better' | 'worse' | 'same' | null;
}

export interface IRunDiff {
  a: { id: string; name: string; experiment: string; status: RunStatus };
  b: { id: string; name: string; experiment: string; status: RunStatus };
  params: IKeyedDiff;
  metrics: IMetricDiff[];
  tags: IKeyedDiff;
  environment: {
    python?: [string, string] | null;
    platform?: [string, string] | null;
    packages?: IKeyedDiff;
  };
  data: {
    added?: string[];
    removed?: string[];
    changed?: { path: string; old: string; new: string }[];
  };
  executions: { only_a?: string[]; only_b?: string[]; order_changed?: boolean };
  notebook: {
    summary: {
      added: number;
      removed: number;
      changed: number;
      unchanged: number;
    };
    cells: string[];
    diff: unknown[];
    base?: unknown;
  } | null;
}

export const COMPARE_PREFIX = 'jupyter-mlm-compare-';

// -- registry ---------------------------------------------------------------------------

export const MODEL_PAGE_PREFIX = 'jp-mlm-model-';

export interface IStagePolicy {
  stages: string[];
  production: string;
  archived: string;
  initial: string;
  require_approval_for: string[];
  approvers: string[];
  /** Approvers may decide in another's name (shared accounts only). */
  named_approvers: boolean;
}

export interface IMe {
  username: string;
  name: string;
  rights: { read: boolean; write: boolean; approve: boolean };
  policy: IStagePolicy;
  /** PostgreSQL's session user, when the store is on PostgreSQL. */
  database_user: string | null;
}

/** A stage a version may go to now, as the server's governance core decided. */
export interface IMove {
  stage: string;
  needs_approval: boolean;
}

export interface IModelVersion {
  id: string;
  model: string;
  version: number;
  stage: string;
  aliases: string[];
  flavor: string;
  serializer: string;
  digest: string;
  size: number;
  run_id: string | null;
  description: string;
  created_ms: number;
  created_by: string;
  /** Only on a model page: the moves allowed for this version; the sidebar offers nothing else. */
  moves?: IMove[];
  run?: {
    id: string;
    name: string;
    experiment: string;
    status: RunStatus;
    metrics: { [key: string]: number | string };
  } | null;
}

export interface IModelSummary {
  name: string;
  description: string;
  created_ms: number;
  versions: number;
  latest: number | null;
  production: IModelVersion | null;
  staged: IModelVersion[];
  aliases: { [alias: string]: number };
  pending: number;
}

export interface IApprovalRequest {
  id: string;
  version_id: string;
  model: string;
  version: number;
  from_stage: string;
  to_stage: string;
  status: 'pending' | 'approved' | 'rejected' | 'cancelled';
  requested_by: string;
  requested_ms: number;
  comment: string | null;
  decided_by: string | null;
  decided_ms: number | null;
  decision_comment: string | null;
  /** On a model page, for pending requests: why this user may not decide it (null: they may). */
  refusal?: string | null;
}

/** One answer holds everything a model page draws. */
export interface IModelDetail {
  name: string;
  description: string;
  created_ms: number;
  /** The production version, else the latest. */
  current: number | null;
  versions: IModelVersion[];
  requests: IApprovalRequest[];
  production_history: number[];
  policy: IStagePolicy;
  /** Who this user acts as in the registry. */
  actor: string;
  /** The card of the version asked for (else of `current`). */
  card: IModelCard | null;
  audit: IAuditEvent[];
}

export interface IAuditEvent {
  seq: number;
  ts_ms: number;
  actor: string;
  action: string;
  entity_type: string;
  entity_id: string;
  before: { [key: string]: unknown } | null;
  after: { [key: string]: unknown } | null;
  comment: string | null;
  prev_hash: string;
  hash: string;
  db_user: string | null;
}

export interface IAuditReport {
  events: number;
  ok: boolean;
  first_bad_seq: number | null;
  problem: string | null;
  head_seq: number;
  head_hash: string | null;
}

export interface ILineage {
  data: { path: string; digest: string; size: number | null; kind: string }[];
  run: {
    id: string;
    name: string;
    experiment: string;
    status: RunStatus;
    params: { [key: string]: string };
    /** Non-finite values arrive as "NaN", "Infinity", "-Infinity" (jupyter_mlm.wire). */
    metrics: { [key: string]: number | string };
  } | null;
  notebook: {
    path: string | null;
    manifest: string;
    phase: string;
    created_ms: number;
    out_of_order: boolean;
  } | null;
  environment: {
    python: string | null;
    platform: string | null;
    packages: number;
    git: { commit?: string; branch?: string; dirty?: boolean } | null;
  } | null;
  version: { model: string; version: number; digest: string; flavor: string };
}

export interface IModelCard {
  model: string;
  version: number;
  stage: string;
  aliases: string[];
  flavor: string;
  digest: string;
  size: number;
  description: string;
  created_by: string;
  created_ms: number;
  signature: { inputs?: { name: string; type: string }[] } | null;
  reference_rows: number | null;
  safe_to_load: boolean;
  load_safety: string;
  lineage: ILineage;
  history: IAuditEvent[];
  approvals: IApprovalRequest[];
  /** Comparisons this version took part in (compare_models, the gate, shadow traffic). */
  comparisons?: IComparison[];
}

// -- monitoring -------------------------------------------------------------------------

export const MONITOR_PAGE_PREFIX = 'jp-mlm-monitor-';

export interface IMonitorStatus {
  model: string;
  status: 'ok' | 'drift' | 'alert' | 'no data';
  version: number | null;
  last_batch_ms: number | null;
  batches: number;
  rows: number;
  alerts: number;
  rules: string[];
}

export interface IMonitorAlert {
  id: string;
  model: string;
  version: number | null;
  rule_id: string;
  expression: string;
  value: WireNumber | null;
  window_start_ms: number;
  window_end_ms: number;
  ts_ms: number;
}

export interface IColumnDrift {
  column: string;
  type: 'numeric' | 'categorical';
  method: string;
  threshold: number;
  score: WireNumber | null;
  drifted: boolean;
  psi: WireNumber | null;
  reference_rows: number;
  current_rows: number;
}

export interface IMonitorReport {
  model: string;
  version: number;
  window: string;
  rows: number;
  batches: number;
  drift: {
    columns: IColumnDrift[];
    drifted: number;
    share: number;
    dataset_drift: boolean;
    share_threshold: number;
  } | null;
  performance: {
    rows: number;
    metrics: { [key: string]: WireNumber | null };
  } | null;
  latency: { [key: string]: WireNumber | null };
  has_reference: boolean;
  alerts: IMonitorAlert[];
  /** Per column: reference and current counts on the same bins. */
  distributions: {
    [column: string]: {
      labels: string[];
      reference: number[];
      current: number[];
    };
  };
}

export interface IMonitorSeries {
  model: string;
  metric: string;
  every: string;
  every_ms: number;
  points: {
    time_ms: number;
    value: WireNumber | null;
    rows: number;
    version: number | null;
  }[];
  alerts: IMonitorAlert[];
  /** When a version entered production. */
  promotions: { ts_ms: number; version: number | null; action: string }[];
}

/** One step of a model's loop (GET /mlm/api/monitor/{model}/timeline). */
export interface ILoopEvent {
  seq: number;
  ts_ms: number;
  actor: string;
  action: string;
  kind: string;
  text: string;
}

export interface IComparison {
  id: string;
  model: string;
  version_a: number;
  version_b: number;
  metric: string;
  value_a: WireNumber | null;
  value_b: WireNumber | null;
  delta: WireNumber | null;
  ci_low: WireNumber | null;
  ci_high: WireNumber | null;
  rows: number;
  source: string;
  created_ms: number;
  b_better: boolean | null;
}

export interface IJob {
  id: string;
  status: 'queued' | 'running' | 'succeeded' | 'failed';
  attempts: number;
  created_ms: number;
  run_id: string | null;
  alert_id: string | null;
}

export interface ITimeline {
  events: ILoopEvent[];
  comparisons: IComparison[];
  jobs: IJob[];
  policy: {
    promote_if: string | null;
    rollback_if: string | null;
    min_rows: number;
  } | null;
}

/** Rows and metrics of one serving arm (GET /mlm/api/monitor/{model}/arms). */
export interface IArm {
  source: string;
  arm: string | null;
  version: number;
  rows: number;
  batches: number;
  labeled_rows: number;
  metrics: Record<string, WireNumber | null>;
}
