"""``jupyter mlm …``: the terminal face over the same store and services as the API and REST."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence

from .errors import MLMError
from .store import Store, open_store

Command = Callable[[argparse.Namespace], int]


def _human_bytes(size: int) -> str:
    value = float(size)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{size} B"


def _open(args: argparse.Namespace) -> Store:
    return open_store(args.store, args.objects)


def cmd_init(args: argparse.Namespace) -> int:
    store = _open(args)
    print(f"store ready at {store.location.display_url} (schema {store.schema_version})")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    status = _open(args).status()
    if args.json:
        print(json.dumps(status.to_dict(), indent=2))
        return 0
    rows = [
        ("store", status.store_uri),
        ("objects", status.objects_uri),
        ("backend", status.backend),
        ("schema", status.schema_version),
        ("experiments", str(status.experiments)),
        ("runs", str(status.runs)),
        ("models", str(status.models)),
        ("objects stored", f"{status.objects} ({_human_bytes(status.object_bytes)})"),
    ]
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        print(f"{label:<{width}}  {value}")
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    from .capture.reproduce import restore

    path = restore(_open(args), args.run, args.output, overwrite=args.force)
    print(f"wrote {path}")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from .capture.reproduce import check

    report = check(_open(args), args.run)
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        print("\n".join(report.lines()))
    return 1 if report.differs else 0


def cmd_reproduce(args: argparse.Namespace) -> int:
    from .capture.reproduce import reproduce

    result = reproduce(_open(args), args.run, timeout=args.timeout)
    print("\n".join(result.lines()))
    return 0 if result.runs else 1


def cmd_diff(args: argparse.Namespace) -> int:
    from .diffs.runs import diff_checkpoints, diff_runs

    store = _open(args)
    if args.checkpoint:
        if len(args.refs) != 2:
            print("jupyter mlm: error: diff --checkpoint NOTEBOOK C1 C2 takes two checkpoint ids", file=sys.stderr)
            return 2
        result = diff_checkpoints(store, args.checkpoint.strip("/"), args.refs[0], args.refs[1])
        if args.json:
            print(json.dumps(result, indent=2))
        else:
            summary = result["summary"]
            print(f"{args.checkpoint}: {summary['changed']} changed, {summary['added']} added, "
                  f"{summary['removed']} removed, {summary['unchanged']} unchanged cells")  # fmt: skip
            print("\n".join(result["cells"]))
        return 0
    if len(args.refs) != 2:
        print("jupyter mlm: error: diff takes two runs: jupyter mlm diff A B", file=sys.stderr)
        return 2
    report = diff_runs(store, args.refs[0], args.refs[1])
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        print("\n".join(report.lines(color=sys.stdout.isatty() and not args.no_color)))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="jupyter mlm", description="Machine-learning model management for Jupyter.")
    parser.add_argument(
        "--store", metavar="URI", help="store folder or database URL (default: $MLM_STORE_URI or nearest .mlm/)"
    )
    parser.add_argument("--objects", metavar="URI", help="objects folder or fsspec URL (default: $MLM_OBJECTS_URI)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    init = sub.add_parser("init", help="create (or migrate) the store and print where it is")
    init.set_defaults(func=cmd_init)

    status = sub.add_parser("status", help="store location, schema version, counts and object usage")
    status.add_argument("--json", action="store_true", help="print JSON")
    status.set_defaults(func=cmd_status)

    restore = sub.add_parser("restore", help="write the notebook of a run's snapshot")
    restore.add_argument("run", help="run id, unique id prefix, or name")
    restore.add_argument("-o", "--output", required=True, help="where to write the .ipynb")
    restore.add_argument("-f", "--force", action="store_true", help="overwrite an existing file")
    restore.set_defaults(func=cmd_restore)

    check = sub.add_parser(
        "check", help="list data files and packages that differ from a run's snapshot (exit 1 if any)"
    )
    check.add_argument("run", help="run id, unique id prefix, or name")
    check.add_argument("--json", action="store_true", help="print JSON")
    check.set_defaults(func=cmd_check)

    reproduce = sub.add_parser("reproduce", help="re-execute a run's notebook and compare its metrics")
    reproduce.add_argument("run", help="run id, unique id prefix, or name")
    reproduce.add_argument("--timeout", type=int, default=600, help="seconds per cell (default 600)")
    reproduce.set_defaults(func=cmd_reproduce)

    diff = sub.add_parser("diff", help="what differs between two runs (or two checkpoints of a notebook)")
    diff.add_argument("refs", nargs="*", metavar="RUN", help="two runs: ids, id prefixes or names")
    diff.add_argument("--checkpoint", metavar="NOTEBOOK", help="diff checkpoints C1 C2 of NOTEBOOK instead")
    diff.add_argument("--json", action="store_true", help="print JSON")
    diff.add_argument("--no-color", action="store_true", help="no colours even on a terminal")
    diff.set_defaults(func=cmd_diff)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func: Command = args.func
    try:
        return func(args)
    except MLMError as exc:
        print(f"jupyter mlm: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
