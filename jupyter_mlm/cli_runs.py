"""``jupyter mlm runs …`` and ``jupyter mlm experiments …``: list, delete (softly) and restore,
purge, rename, notes and tags of runs; experiments listed, renamed, archived."""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from .wire import dumps


def add_parsers(sub: Any) -> None:
    runs = sub.add_parser("runs", help="list runs; delete, restore, purge, rename, annotate and tag them")
    verbs = runs.add_subparsers(dest="verb", metavar="ACTION")
    runs.set_defaults(
        func=cmd_runs_list, experiment=None, filter=None, deleted=False, limit=50, json=False, group_by=None
    )
    listing = verbs.add_parser("list", help="runs, newest first (the default action)")
    listing.add_argument("--experiment", "-e", help="only this experiment")
    listing.add_argument("--filter", "-f", help="e.g. \"metrics.auc > 0.8 and params.model = 'xgb'\"")
    listing.add_argument("--deleted", action="store_true", help="the deleted runs instead")
    listing.add_argument("--limit", type=int, default=50, help="at most this many (default 50)")
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.add_argument(
        "--group-by", metavar="FIELD",
        help="one line per value of experiment, status, user, params.X or tags.X, with mean metrics",
    )  # fmt: skip
    listing.set_defaults(func=cmd_runs_list)
    delete = verbs.add_parser("delete", help="delete runs softly (restore brings them back until purged)")
    delete.add_argument("refs", nargs="+", metavar="RUN", help="run id, id prefix or name")
    delete.set_defaults(func=cmd_runs_delete, restoring=False)
    restore = verbs.add_parser("restore", help="bring back deleted runs")
    restore.add_argument("refs", nargs="+", metavar="RUN")
    restore.set_defaults(func=cmd_runs_delete, restoring=True)
    rename = verbs.add_parser("rename", help="give a run another name")
    rename.add_argument("ref", metavar="RUN")
    rename.add_argument("name", metavar="NAME")
    rename.set_defaults(func=cmd_runs_rename)
    note = verbs.add_parser("note", help="set a run's note (markdown): TEXT, --file F, or - for standard input")
    note.add_argument("ref", metavar="RUN")
    note.add_argument("text", metavar="TEXT", nargs="?", help="the note; empty clears it")
    note.add_argument("--file", help="read the note from this file")
    note.set_defaults(func=cmd_runs_note)
    tag = verbs.add_parser("tag", help="set KEY=VALUE tags of a run, or --delete KEY")
    tag.add_argument("ref", metavar="RUN")
    tag.add_argument("tags", nargs="*", metavar="KEY=VALUE")
    tag.add_argument("--delete", action="append", default=[], metavar="KEY", help="remove this tag")
    tag.set_defaults(func=cmd_runs_tag)
    purge = verbs.add_parser("purge", help="remove deleted runs for good (a dry run unless --apply)")
    purge.add_argument("--older-than", default="30d", help="deleted longer ago than this (default 30d; 0: all)")
    purge.add_argument("--apply", action="store_true", help="really remove them")
    purge.set_defaults(func=cmd_runs_purge)

    experiments = sub.add_parser("experiments", help="list, rename, archive and restore experiments")
    actions = experiments.add_subparsers(dest="verb", metavar="ACTION")
    experiments.set_defaults(func=cmd_experiments_list, all=False, json=False)
    shown = actions.add_parser("list", help="experiments by name (the default action)")
    shown.add_argument("--all", action="store_true", help="archived ones too")
    shown.add_argument("--json", action="store_true", help="print JSON")
    shown.set_defaults(func=cmd_experiments_list)
    renamed = actions.add_parser("rename", help="rename an experiment (its runs follow)")
    renamed.add_argument("name", metavar="NAME")
    renamed.add_argument("new_name", metavar="NEW_NAME")
    renamed.set_defaults(func=cmd_experiments_rename)
    for verb, archived in (("archive", True), ("restore", False)):
        action = actions.add_parser(
            verb, help=f"{verb} an experiment" + (" (hidden from lists, runs kept)" if archived else "")
        )
        action.add_argument("name", metavar="NAME")
        action.set_defaults(func=cmd_experiments_archive, archived=archived)


def _store(args: argparse.Namespace) -> Any:
    from .cli import _open

    return _open(args)


def _when(ms: int | None) -> str:
    return "" if ms is None else time.strftime("%Y-%m-%d %H:%M", time.localtime(ms / 1000))


def cmd_runs_list(args: argparse.Namespace) -> int:
    from .cli import _table

    store = _store(args)
    if args.group_by is not None:
        return _print_groups(store, args)
    runs, total = store.search_runs(args.experiment, args.filter, None, args.limit, 0, args.deleted)
    if args.json:
        print(dumps([{"id": r.info.id, "name": r.info.name, "experiment": r.info.experiment, "status": r.info.status,
                      "start_ms": r.info.start_ms, "deleted_ms": r.info.deleted_ms, "params": r.params,
                      "metrics": {k: m.value for k, m in r.metrics.items()}, "tags": r.tags,
                      "note": r.info.note or ""} for r in runs], indent=2))  # fmt: skip
        return 0
    if not runs:
        print("no deleted runs" if args.deleted else "no runs match")
        return 0
    rows = [[r.info.id[:8], r.info.name, r.info.experiment, r.info.status, _when(r.info.start_ms)]
            + ([_when(r.info.deleted_ms)] if args.deleted else []) for r in runs]  # fmt: skip
    print(_table(rows, ["RUN", "NAME", "EXPERIMENT", "STATUS", "STARTED"] + (["DELETED"] if args.deleted else [])))
    if total > len(runs):
        print(f"… {total - len(runs)} more (--limit)")
    return 0


def _print_groups(store: Any, args: argparse.Namespace) -> int:
    from .cli import _table

    groups, total = store.group_runs(args.group_by, args.experiment, args.filter, args.deleted)
    if args.json:
        print(dumps([{"value": g.value, "runs": g.runs, "metrics": g.metrics} for g in groups], indent=2))
        return 0
    if not groups:
        print("no runs match")
        return 0
    keys = sorted({k for g in groups for k in g.metrics})

    def mean(group: Any, key: str) -> str:
        summary = group.metrics.get(key)
        return "" if summary is None or summary.mean is None else f"{summary.mean:.6g}"

    rows = [["(none)" if g.value is None else g.value, str(g.runs), *(mean(g, k) for k in keys)] for g in groups]
    print(_table(rows, [args.group_by.upper(), "RUNS", *(f"MEAN {k}" for k in keys)]))
    if total > len(groups):
        print(f"… {total - len(groups)} more values")
    return 0


def cmd_runs_delete(args: argparse.Namespace) -> int:
    """``runs delete`` and, with ``restoring``, ``runs restore``."""
    store = _store(args)
    records = [store.resolve_run(ref) for ref in args.refs]  # every reference checked before any change
    for record in records:
        if args.restoring:
            store.restore_run(record.id)
            print(f"restored run {record.name} ({record.id[:8]})")
        else:
            store.delete_run(record.id)
            print(
                f"deleted run {record.name} ({record.id[:8]}); jupyter mlm runs restore {record.id[:8]} brings it back"
            )
    return 0


def cmd_runs_rename(args: argparse.Namespace) -> int:
    store = _store(args)
    record = store.resolve_run(args.ref)
    renamed = store.rename_run(record.id, args.name)
    print(f"run {record.id[:8]}: {record.name} → {renamed.name}")
    return 0


def cmd_runs_note(args: argparse.Namespace) -> int:
    from .errors import UsageError

    if (args.file is None) == (args.text is None):
        raise UsageError("give the note as TEXT (- reads standard input) or with --file, not both")
    if args.file is not None:
        with open(args.file, encoding="utf-8") as handle:
            text = handle.read()
    else:
        text = sys.stdin.read() if args.text == "-" else args.text
    store = _store(args)
    record = store.resolve_run(args.ref)
    store.set_note(record.id, text)
    print(
        f"run {record.name} ({record.id[:8]}): "
        + ("note cleared" if not text else f"note set ({len(text)} characters)")
    )
    return 0


def cmd_runs_tag(args: argparse.Namespace) -> int:
    from .errors import UsageError

    tags = {}
    for item in args.tags:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"tags are KEY=VALUE, not {item!r}")
        tags[key] = value
    if not tags and not args.delete:
        raise UsageError("give KEY=VALUE tags to set, or --delete KEY")
    store = _store(args)
    record = store.resolve_run(args.ref)
    store.edit_run(record.id, tags=tags, delete_tags=args.delete)
    print(f"run {record.name} ({record.id[:8]}): tags {dict(sorted(store.get_run(record.id).tags.items()))}")
    return 0


def cmd_runs_purge(args: argparse.Namespace) -> int:
    from .tracking.housekeeping import age_ms

    store = _store(args)
    cutoff = int(time.time() * 1000) - age_ms(args.older_than)
    records = store.purge_runs(cutoff, apply=args.apply)
    verb = "purged" if args.apply else "would purge"
    for record in records:
        print(f"{verb} {record.name} ({record.id[:8]}), deleted {_when(record.deleted_ms)}")
    print(f"{verb} {len(records)} run(s)" + ("; jupyter mlm gc --apply then frees their blobs" if args.apply and records
          else "" if args.apply else "; add --apply to remove them"))  # fmt: skip
    return 0


def cmd_experiments_list(args: argparse.Namespace) -> int:
    from .cli import _table

    store = _store(args)
    found = store.list_experiments(archived=args.all)
    if args.json:
        print(dumps([{"id": e.id, "name": e.name, "created_ms": e.created_ms, "archived_ms": e.archived_ms}
                     for e in found], indent=2))  # fmt: skip
        return 0
    rows = [[e.name, _when(e.created_ms), "archived" if e.archived_ms else ""] for e in found]
    print(_table(rows, ["EXPERIMENT", "CREATED", ""]) if rows else "no experiments yet")
    return 0


def cmd_experiments_rename(args: argparse.Namespace) -> int:
    renamed = _store(args).rename_experiment(args.name, args.new_name)
    print(f"experiment {args.name} → {renamed.name}")
    return 0


def cmd_experiments_archive(args: argparse.Namespace) -> int:
    _store(args).archive_experiment(args.name, args.archived)
    print(f"experiment {args.name} " + ("archived (hidden from lists; its runs kept)" if args.archived else "restored"))
    return 0
