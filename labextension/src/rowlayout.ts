/**
 * What each line of the runs table is when runs nest or are grouped: the table stays a list of
 * fixed-height rows (so it can stay virtual), and these functions say which row is at an index.
 */
import { IRun, IRunGroup } from './tokens';

/** The runs of one expanded parent or group, as far as they are loaded. */
export interface IChildren {
  runs: IRun[];
  /** How many there are in all (more than `runs.length` when capped). */
  total: number;
}

export type DisplayRow =
  | {
      kind: 'run';
      key: string;
      /** Undefined while its page loads. */
      run: IRun | undefined;
      depth: number;
      /** Its index among the top-level runs of the query; null for a nested or grouped run. */
      rootIndex: number | null;
    }
  | { kind: 'group'; key: string; group: IRunGroup; expanded: boolean }
  | {
      kind: 'note';
      key: string;
      depth: number;
      text: string;
      /** A filter that lists every run the note stands for. */
      filter?: string;
    };

/** The condition selecting one group's runs, in the filter grammar. */
export function groupCondition(by: string, value: string | null): string {
  if (value === null) {
    return `${by} is null`;
  }
  return `${by} = '${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** `filter` narrowed by `condition` (both kept whole: the user's filter may use `or`). */
export function narrowed(filter: string, condition: string): string {
  return filter.trim() ? `(${filter}) and ${condition}` : condition;
}

export function groupKey(value: string | null): string {
  return value === null ? 'group:\u0000' : `group:${value}`;
}

/**
 * The rows below an expanded run or group: its loaded runs (and theirs, where expanded), a
 * "Loading…" line while they come, and a line for those past the cap.
 */
export function childRows(
  parentKey: string,
  depth: number,
  children: Map<string, IChildren | 'loading'>,
  expanded: Set<string>,
  moreFilter: string,
  seen: Set<string> = new Set()
): DisplayRow[] {
  const loaded = children.get(parentKey);
  if (loaded === undefined || loaded === 'loading') {
    return [
      { kind: 'note', key: `${parentKey}:loading`, depth, text: 'Loading…' }
    ];
  }
  // A cycle cannot be stored (a parent exists before its child), but never loop on one.
  seen.add(parentKey);
  const rows: DisplayRow[] = [];
  for (const run of loaded.runs) {
    rows.push({
      kind: 'run',
      key: `${parentKey}/${run.id}`,
      run,
      depth,
      rootIndex: null
    });
    if (expanded.has(run.id) && !seen.has(run.id)) {
      rows.push(
        ...childRows(
          run.id,
          depth + 1,
          children,
          expanded,
          `parent_id = '${run.id}'`,
          seen
        )
      );
    }
  }
  const hidden = loaded.total - loaded.runs.length;
  if (hidden > 0) {
    rows.push({
      kind: 'note',
      key: `${parentKey}:more`,
      depth,
      text: `… ${hidden} more`,
      filter: moreFilter
    });
  }
  return rows;
}

/** Where expanded top-level runs insert their subtrees, in row order. */
export interface IInsertion {
  rootIndex: number;
  rows: DisplayRow[];
}

/** The row at `index` of a list of `roots` top-level runs with `insertions` below some. */
export function treeRowAt(
  index: number,
  insertions: IInsertion[],
  rootAt: (rootIndex: number) => IRun | undefined
): DisplayRow {
  let before = 0; // rows inserted above the current position
  for (const insertion of insertions) {
    const parentRow = insertion.rootIndex + before;
    if (index <= parentRow) {
      break;
    }
    if (index <= parentRow + insertion.rows.length) {
      return insertion.rows[index - parentRow - 1];
    }
    before += insertion.rows.length;
  }
  const rootIndex = index - before;
  const run = rootAt(rootIndex);
  return {
    kind: 'run',
    key: run ? run.id : `row-${rootIndex}`,
    run,
    depth: 0,
    rootIndex
  };
}
