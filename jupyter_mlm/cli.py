"""``jupyter mlm …``: the terminal face over the same store and services as the API and REST."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from typing import Any

from .config import MLM
from .entities import ModelVersionRecord, StagePolicy
from .errors import MLMError, NotFound, UsageError
from .store import Store, open_store

Command = Callable[[argparse.Namespace], int]


def _human_bytes(size: int) -> str:
    value = float(size)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{size} B"


def _settings() -> MLM:
    """``c.MLM.*`` from the Jupyter server config files (as the server sees them), over ``MLM_*``."""
    from jupyter_core.paths import jupyter_config_path
    from traitlets.config import Config
    from traitlets.config.loader import ConfigFileNotFound, JSONFileConfigLoader, PyFileConfigLoader

    config = Config()
    # jupyter_config_path() lists the user's folder first; later files override earlier ones.
    for folder in reversed(jupyter_config_path()):
        for loader in (JSONFileConfigLoader, PyFileConfigLoader):
            suffix = "json" if loader is JSONFileConfigLoader else "py"
            try:
                config.merge(loader(f"jupyter_server_config.{suffix}", path=folder).load_config())
            except ConfigFileNotFound:
                continue
            except Exception as exc:  # a broken config file must say which one
                raise UsageError(f"cannot read {folder}/jupyter_server_config.{suffix}: {exc}") from None
    return MLM(config=config)


def _policy() -> StagePolicy:
    try:
        return _settings().stage_policy()
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def _open(args: argparse.Namespace) -> Store:
    settings = _settings()
    return open_store(args.store or settings.store_uri or None, args.objects or settings.objects_uri or None)


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


def _actor(args: argparse.Namespace) -> str:
    from .tracking.context import current_user

    return getattr(args, "as_user", None) or current_user()


def _table(rows: list[list[Any]], header: list[str]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(header, widths, strict=True)).rstrip()]
    lines += ["  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    return "\n".join(lines)


def cmd_models(args: argparse.Namespace) -> int:

    store, policy = _open(args), _policy()
    pending = store.approval_requests(status="pending")
    summary: list[dict[str, Any]] = []
    by_model: dict[str, list[ModelVersionRecord]] = {}
    for version in store.list_all_versions():
        by_model.setdefault(version.model, []).append(version)
    for model in store.list_models():
        versions = by_model.get(model.name, [])
        summary.append({
            "name": model.name, "versions": len(versions), "latest": max((v.version for v in versions), default=None),
            "production": [v.version for v in versions if v.stage == policy.production],
            "staging": [v.version for v in versions
                        if v.stage not in (policy.initial, policy.production, policy.archived)],
            "aliases": {a: v.version for v in versions for a in v.aliases},
            "pending": sum(1 for r in pending if r.model == model.name),
        })  # fmt: skip
    if args.json:
        print(json.dumps(summary, indent=2))
        return 0
    if not summary:
        print("no registered models yet: mlm.register_model(model, NAME) in a notebook")
        return 0
    rows = [[m["name"], str(m["versions"]), str(m["latest"] or ""), ",".join(map(str, m["production"])) or "-",
             ",".join(map(str, m["staging"])) or "-", " ".join(f"@{a}={v}" for a, v in m["aliases"].items()),
             str(m["pending"] or "")] for m in summary]  # fmt: skip
    print(
        _table(rows, ["MODEL", "VERSIONS", "LATEST", policy.production.upper(), "OTHER STAGES", "ALIASES", "PENDING"])
    )
    return 0


def cmd_model(args: argparse.Namespace) -> int:
    from .registry import card_lines, model_card

    store, policy = _open(args), _policy()
    versions = store.list_versions(args.name)
    if args.version is not None:
        record = store.get_version(args.name, args.version)
    else:
        production = [v for v in versions if v.stage == policy.production]
        if not versions:
            print(f"model {args.name!r} has no versions")
            return 0
        record = production[-1] if production else versions[-1]
    card = model_card(store, record, policy)
    if args.json:
        print(json.dumps(card, indent=2, default=str))
        return 0
    if args.version is None:
        rows = [[str(v.version), v.stage, " ".join(f"@{a}" for a in v.aliases), v.flavor, v.created_by,
                 (v.run_id or "")[:8], v.digest[:12]] for v in versions]  # fmt: skip
        print(_table(rows, ["VERSION", "STAGE", "ALIASES", "FLAVOR", "BY", "RUN", "DIGEST"]))
        print()
    print("\n".join(card_lines(card)))
    return 0


def _print_result(result: object) -> None:
    from .entities import ApprovalRequest

    if isinstance(result, ApprovalRequest):
        print(f"requested {result.to_stage} for {result.model}/{result.version} (request {result.id[:8]}); "
              f"another user approves with: jupyter mlm approve {result.model} {result.version}")  # fmt: skip
    else:
        print(f"{result.model}/{result.version} is now in {result.stage}")  # type: ignore[attr-defined]


def cmd_transition(args: argparse.Namespace) -> int:

    store = _open(args)
    result = store.transition(args.name, args.version, args.stage, actor=_actor(args), policy=_policy(),
                              comment=args.comment)  # fmt: skip
    _print_result(result)
    return 0


def _decide(args: argparse.Namespace, approve: bool) -> int:

    store = _open(args)
    request_id = args.request
    if request_id is None:
        pending = [r for r in store.approval_requests(args.name, status="pending")
                   if args.version is None or r.version == args.version]  # fmt: skip
        if not pending:
            raise NotFound(f"no pending request for {args.name}" + (f"/{args.version}" if args.version else ""))
        if len(pending) > 1:
            raise UsageError(f"{len(pending)} pending requests for {args.name}; give the VERSION or --request ID")
        request_id = pending[0].id
    decided = store.decide(request_id, approve=approve, actor=_actor(args), policy=_policy(), comment=args.comment)
    print(f"{decided.status} {decided.to_stage} for {decided.model}/{decided.version} "
          f"(requested by {decided.requested_by}, decided by {decided.decided_by})")  # fmt: skip
    return 0


def cmd_approve(args: argparse.Namespace) -> int:
    return _decide(args, approve=True)


def cmd_reject(args: argparse.Namespace) -> int:
    return _decide(args, approve=False)


def cmd_rollback(args: argparse.Namespace) -> int:

    record = _open(args).rollback(args.name, actor=_actor(args), policy=_policy(), comment=args.comment)
    print(f"{record.model}/{record.version} is back in {record.stage}")
    return 0


def cmd_alias(args: argparse.Namespace) -> int:
    from .registry import check_model_name

    store = _open(args)
    check_model_name(args.alias, "alias")
    if args.delete:
        store.delete_alias(args.name, args.alias, actor=_actor(args))
        print(f"removed {args.name}@{args.alias}")
        return 0
    if args.version is None:
        raise UsageError("say which version the alias points at: jupyter mlm alias NAME ALIAS VERSION")
    store.set_alias(args.name, args.alias, args.version, actor=_actor(args), policy=_policy())
    print(f"{args.name}@{args.alias} → version {args.version}")
    return 0


def cmd_audit(args: argparse.Namespace) -> int:
    store = _open(args)
    if args.action == "verify":
        report = store.verify_audit()
        if args.json:
            print(json.dumps(report.__dict__))
        elif report.ok:
            print(f"audit trail intact: {report.events} events, hash chain verified")
        else:
            print(f"audit trail BROKEN at event {report.first_bad_seq}: {report.problem}")
        return 0 if report.ok else 1
    events = store.audit_events(args.model, args.limit)
    if args.json:
        print(json.dumps([e.__dict__ for e in events], indent=2))
        return 0
    from .registry.card import when

    for e in events:
        detail = json.dumps(e.after, sort_keys=True) if e.after else ""
        print(f"{e.seq:>5}  {when(e.ts_ms)}  {e.actor:<12} {e.action:<12} {e.entity_id:<16} {detail}"
              + (f"  # {e.comment}" if e.comment else ""))  # fmt: skip
    return 0


def _positive(value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"version must be a positive whole number, not {value!r}")
    return int(value)


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

    models = sub.add_parser("models", help="registered models with their production/staging versions")
    models.add_argument("--json", action="store_true", help="print JSON")
    models.set_defaults(func=cmd_models)

    model = sub.add_parser("model", help="a model's versions and model card (of VERSION, else production or latest)")
    model.add_argument("name")
    model.add_argument("version", nargs="?", type=_positive)
    model.add_argument("--json", action="store_true", help="print the model card as JSON")
    model.set_defaults(func=cmd_model)

    transition = sub.add_parser("transition", help="move a version to a stage (a request when approval is required)")
    transition.add_argument("name")
    transition.add_argument("version", type=_positive)
    transition.add_argument("stage")
    transition.add_argument("-m", "--comment", help="why")
    transition.set_defaults(func=cmd_transition)

    for verb, func in (("approve", cmd_approve), ("reject", cmd_reject)):
        decide = sub.add_parser(verb, help=f"{verb} a pending stage request (not your own)")
        decide.add_argument("name")
        decide.add_argument("version", nargs="?", type=_positive)
        decide.add_argument("--request", metavar="ID", help="the request id (or a unique prefix)")
        decide.add_argument("-m", "--comment", help="why")
        decide.add_argument("--as", dest="as_user", metavar="USER", help="approver name (shared accounts)")
        decide.set_defaults(func=func)

    rollback = sub.add_parser("rollback", help="put the previous production version back")
    rollback.add_argument("name")
    rollback.add_argument("-m", "--comment", help="why")
    rollback.set_defaults(func=cmd_rollback)

    alias = sub.add_parser("alias", help="point NAME@ALIAS at a version (or --delete it)")
    alias.add_argument("name")
    alias.add_argument("alias")
    alias.add_argument("version", nargs="?", type=_positive)
    alias.add_argument("--delete", action="store_true")
    alias.set_defaults(func=cmd_alias)

    audit = sub.add_parser("audit", help="the registry's audit trail: verify the hash chain, or list events")
    audit.add_argument("action", choices=["verify", "log"])
    audit.add_argument("--model", help="only this model's events (log)")
    audit.add_argument("--limit", type=_positive, help="newest N events (log)")
    audit.add_argument("--json", action="store_true", help="print JSON")
    audit.set_defaults(func=cmd_audit)
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
