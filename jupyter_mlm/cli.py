"""``jupyter mlm …``: the terminal face over the same store and services as the API and REST."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from .config import MLM
from .errors import MLMError, UsageError
from .identity import login_name
from .store import Store, open_store
from .wire import dumps

if TYPE_CHECKING:
    from .registry import Governance

Command = Callable[[argparse.Namespace], int]


def _human_bytes(size: int) -> str:
    from .store.objects import human_bytes

    return human_bytes(size)


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
        print(dumps(status.to_dict(), indent=2))
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


SHOWN_ORPHANS = 20


def cmd_fsck(args: argparse.Namespace) -> int:
    from .diffs.terminal import clean
    from .store.health import fsck

    report = fsck(_open(args), verify=not args.quick)
    if args.json:
        print(dumps(report.to_dict(), indent=2))
        return 0 if report.ok else 1
    checked = "present" if args.quick else f"present and re-hashed ({report.verified:,})"
    print(f"database    {report.database}")
    size = _human_bytes(report.object_bytes)
    print(f"objects     {report.objects:,} ({size}); {report.referenced:,} referenced, {checked}")
    audit = report.audit
    print(f"audit       {'chain verified' if audit.ok else 'BROKEN'} ({audit.events:,} events)")
    for problem in report.problems:
        print(f"PROBLEM     {clean(str(problem))}")
    for orphan in report.orphans[:SHOWN_ORPHANS]:
        print(f"orphan      {orphan.digest} ({_human_bytes(orphan.size)})")
    if len(report.orphans) > SHOWN_ORPHANS:
        print(f"orphan      … {len(report.orphans) - SHOWN_ORPHANS:,} more (--json lists them all)")
    for temporary in report.temporaries:
        print(f"temporary   {clean(temporary.digest)} ({_human_bytes(temporary.size)}): an upload that never finished")
    if report.orphans or report.temporaries:
        print("            unreferenced blobs and stale temporaries: `jupyter mlm gc` shows what it would remove")
    print("ok" if report.ok else f"{len(report.problems)} problem(s)")
    return 0 if report.ok else 1


def cmd_gc(args: argparse.Namespace) -> int:
    from .diffs.terminal import clean
    from .store.health import gc

    if args.grace < 0:
        raise UsageError("--grace takes a number of seconds, 0 or more")
    report = gc(_open(args), apply=args.apply, grace_seconds=args.grace)
    if args.json:
        print(dumps(report.to_dict(), indent=2))
        return 0
    verb = "removed" if report.applied else "would remove"
    for stored in report.blobs:
        print(f"{verb} blob {stored.digest} ({_human_bytes(stored.size)})")
    for stored in report.temporaries:
        print(f"{verb} temporary {clean(stored.digest)} ({_human_bytes(stored.size)})")
    print(f"{verb} {len(report.blobs):,} unreferenced blob(s) and {len(report.temporaries):,} stale temporary file(s), "
          f"{_human_bytes(report.freed_bytes)}; kept {report.kept_young:,} unreferenced but younger than the "
          f"grace period ({args.grace:g} s) or written during a running run")  # fmt: skip
    if not report.applied and (report.blobs or report.temporaries):
        print("nothing was deleted: run with --apply to delete")
    return 0


def _print_copy(report: Any, json_out: bool, verb: str) -> int:
    from .diffs.terminal import clean

    if json_out:
        print(dumps(report.to_dict(), indent=2))
        return 0
    print(f"{verb} {report.experiments} experiment(s), {report.runs} run(s) ({report.skipped_runs} copied before), "
          f"{report.metric_points:,} metric points, {report.artifacts} artifact(s), {report.model_versions} model "
          f"version(s), {report.aliases} alias(es)")  # fmt: skip
    if report.stage_requests:
        print(f"{report.stage_requests} stage transition(s) wait for approval (jupyter mlm approve …)")
    for line in report.skipped:
        print(f"skipped: {clean(line)}")
    return 0


def cmd_import_mlflow(args: argparse.Namespace) -> int:
    from .interop.mlflow_io import import_mlflow

    report = import_mlflow(_open(args), args.tracking_uri, login_name(), args.experiment or None)
    return _print_copy(report, args.json, "imported")


def cmd_export_mlflow(args: argparse.Namespace) -> int:
    from .interop.mlflow_io import export_mlflow

    report = export_mlflow(_open(args), args.tracking_uri, login_name(), args.experiment or None,
                           artifact_root=args.artifact_root, trusted=args.trusted)  # fmt: skip
    return _print_copy(report, args.json, "exported")


def cmd_export(args: argparse.Namespace) -> int:
    from .interop.mlflow_io import export_model

    if args.format != "mlflow":
        raise UsageError(f"--format takes mlflow, not {args.format!r}")
    ref = args.ref if "@" in args.ref or "/" in args.ref else f"{args.ref}@{_production(args)}"
    target = export_model(_open(args), ref, args.output, login_name(), trusted=args.trusted)
    print(f"wrote the MLflow model {ref} to {target} (mlflow models serve -m {target} --env-manager local)")
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    from .capture.reproduce import restore

    report: list[str] = []
    restore(_open(args), args.run, args.output, overwrite=args.force, report=report)
    print("\n".join(report))
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from .capture.reproduce import check

    report = check(_open(args), args.run)
    if args.json:
        print(dumps(report.to_dict(), indent=2))
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
        from .identity import root_key

        result = diff_checkpoints(
            store, args.checkpoint.strip("/"), args.refs[0], args.refs[1], root_key(args.root), strict=args.all
        )
        if args.json:
            print(dumps(result, indent=2))
        else:
            summary = result["summary"]
            print(f"{args.checkpoint}: {summary['changed']} changed, {summary['added']} added, "
                  f"{summary['removed']} removed, {summary['unchanged']} unchanged cells")  # fmt: skip
            print("\n".join(result["cells"]))
        return 0
    if len(args.refs) != 2:
        print("jupyter mlm: error: diff takes two runs: jupyter mlm diff A B", file=sys.stderr)
        return 2
    report = diff_runs(store, args.refs[0], args.refs[1], strict=args.all)
    if args.json:
        print(dumps(report.to_dict(), indent=2))
    else:
        print("\n".join(report.lines(color=sys.stdout.isatty() and not args.no_color)))
    return 0


def _governance(args: argparse.Namespace) -> Governance:
    from .registry import Governance

    return Governance(_open(args), login_name())


def _table(rows: list[list[Any]], header: list[str]) -> str:
    from .diffs.terminal import clean

    # Names come from the store: escaped, so none can drive the terminal.
    rows = [[clean(c) for c in row] for row in rows]
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(header, widths, strict=True)).rstrip()]
    lines += ["  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    return "\n".join(lines)


def cmd_models(args: argparse.Namespace) -> int:
    governance = _governance(args)
    policy = governance.policy()
    summary = [
        m | {"production": [m["production"].version] if m["production"] else [],
             "staging": [v.version for v in m["staged"]]}
        for m in governance.summaries()
    ]  # fmt: skip
    for m in summary:
        m.pop("staged")
    if args.json:
        print(dumps(summary, indent=2))
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

    governance = _governance(args)
    detail = governance.model_detail(args.name)
    if args.version is not None:
        record = governance.store.get_version(args.name, args.version)
    elif detail["current"] is None:
        print(f"model {args.name!r} has no versions")
        return 0
    else:
        record = detail["current"]
    card = model_card(governance.store, record, detail["policy"])
    if args.json:
        card["moves"] = {str(v.version): [m.to_dict() for m in moves] for v, moves in detail["versions"]}
        print(dumps(card, indent=2))
        return 0
    if args.version is None:
        rows = [[str(v.version), v.stage, " ".join(f"@{a}" for a in v.aliases), v.flavor, v.created_by,
                 (v.run_id or "")[:8], v.digest[:12], ",".join(m.stage for m in moves)]
                for v, moves in detail["versions"]]  # fmt: skip
        print(_table(rows, ["VERSION", "STAGE", "ALIASES", "FLAVOR", "BY", "RUN", "DIGEST", "CAN MOVE TO"]))
        print()
    print("\n".join(card_lines(card)))
    return 0


def _print_result(result: object) -> None:
    from .entities import ApprovalRequest

    if isinstance(result, ApprovalRequest):
        print(f"requested {result.to_stage} for {result.model}/{result.version} (request {result.id[:8]}); "
              f"another person approves with: jupyter mlm approve {result.model} {result.version}")  # fmt: skip
    else:
        print(f"{result.model}/{result.version} is now in {result.stage}")  # type: ignore[attr-defined]


def cmd_transition(args: argparse.Namespace) -> int:
    _print_result(_governance(args).transition(args.name, args.version, args.stage, args.comment))
    return 0


def _decide(args: argparse.Namespace, approve: bool) -> int:
    decided = _governance(args).decide(
        args.name, args.version, approve=approve, request=args.request, comment=args.comment, as_user=args.as_user
    )
    print(f"{decided.status} {decided.to_stage} for {decided.model}/{decided.version} "
          f"(requested by {decided.requested_by}, decided by {decided.decided_by})")  # fmt: skip
    return 0


def cmd_approve(args: argparse.Namespace) -> int:
    return _decide(args, approve=True)


def cmd_reject(args: argparse.Namespace) -> int:
    return _decide(args, approve=False)


def cmd_rollback(args: argparse.Namespace) -> int:
    record = _governance(args).rollback(args.name, args.comment)
    print(f"{record.model}/{record.version} is back in {record.stage}")
    return 0


def cmd_alias(args: argparse.Namespace) -> int:
    governance = _governance(args)
    if args.delete:
        governance.delete_alias(args.name, args.alias)
        print(f"removed {args.name}@{args.alias}")
        return 0
    if args.version is None:
        raise UsageError("say which version the alias points at: jupyter mlm alias NAME ALIAS VERSION")
    governance.set_alias(args.name, args.alias, args.version)
    print(f"{args.name}@{args.alias} → version {args.version}")
    return 0


def _on_off(value: str) -> bool:
    if value.lower() in ("on", "true", "yes", "1"):
        return True
    if value.lower() in ("off", "false", "no", "0"):
        return False
    raise argparse.ArgumentTypeError(f"say on or off, not {value!r}")


def _names(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def cmd_policy(args: argparse.Namespace) -> int:
    governance = _governance(args)
    if args.action == "set":
        changes: dict[str, Any] = {}
        for field in ("stages", "require_approval_for", "approvers"):
            if getattr(args, field) is not None:
                changes[field] = _names(getattr(args, field))
        for field in ("production", "archived", "named_approvers"):
            if getattr(args, field) is not None:
                changes[field] = getattr(args, field)
        if not changes:
            raise UsageError("say what to change, e.g. jupyter mlm policy set --require-approval-for production")
        policy = governance.set_policy(args.comment, **changes)
    else:
        policy = governance.policy()
    if args.json:
        print(dumps(policy.to_dict(), indent=2))
        return 0
    print(f"stages            {' → '.join(policy.stages)}  (production: {policy.production}, "
          f"archived: {policy.archived})")  # fmt: skip
    print(f"approval needed   {', '.join(policy.require_approval_for) or 'for no stage'}")
    print(f"approvers         {', '.join(policy.approvers) or 'anyone but the requester'}")
    print(f"named approvers   {'on (shared accounts: --as NAME is accepted)' if policy.named_approvers else 'off'}")
    identity = governance.store.db_identity()
    who = governance.actor + (f" (database role {identity.user})" if identity else " (OS login; SQLite knows no users)")
    print(f"you act as        {who}")
    return 0


def cmd_audit(args: argparse.Namespace) -> int:
    from .registry.audit import anchor_line, parse_anchors, record_anchor

    store = _open(args)
    if args.action == "anchor":
        print(record_anchor(store, args.to) if args.to else anchor_line(store))
        return 0
    if args.action == "verify":
        report = store.verify_audit(parse_anchors(args.anchor) if args.anchor else ())
        if args.json:
            print(dumps(report))
        elif report.ok:
            anchored = f", extends {report.anchors} anchor(s)" if report.anchors else ""
            print(f"audit trail intact: {report.events} events, hash chain and registry state verified{anchored}")
        else:
            at = f" at event {report.first_bad_seq}" if report.first_bad_seq else ""
            print(f"audit trail BROKEN{at}: {report.problem}")
        return 0 if report.ok else 1
    events = store.audit_events(args.model, args.limit)
    if args.json:
        print(dumps(events, indent=2))
        return 0
    from .diffs.terminal import clean
    from .registry.card import when

    for e in events:
        detail = json.dumps(e.after, sort_keys=True) if e.after else ""
        comment = f"  # {e.comment}" if e.comment else ""
        print(clean(f"{e.seq:>5}  {when(e.ts_ms)}  {e.actor:<12} {e.action:<12} {e.entity_id:<16} {detail}{comment}"))
    return 0


def _monitor(args: argparse.Namespace) -> Any:
    from .monitoring.service import Monitor

    return Monitor(_open(args), login_name())


def cmd_monitor(args: argparse.Namespace) -> int:
    monitor = _monitor(args)
    report = monitor.report(args.model, window=args.window, version=args.version)
    if args.json:
        print(dumps(report.to_dict(), indent=2))
    else:
        from .diffs.terminal import clean

        print("\n".join(clean(line) for line in report.lines()))
    return 0


def cmd_alerts(args: argparse.Namespace) -> int:
    from .registry.card import when

    alerts = _open(args).alerts(args.model)
    if args.json:
        print(dumps(alerts, indent=2))
        return 0
    if not alerts:
        print("no alerts" + (f" for {args.model}" if args.model else ""))
        return 0
    rows = [[when(a.ts_ms), a.model, str(a.version or ""), a.expression, "" if a.value is None else f"{a.value:.4g}"]
            for a in alerts[: args.limit]]  # fmt: skip
    print(_table(rows, ["WHEN", "MODEL", "VERSION", "RULE", "VALUE"]))
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from .serving import Options, parse_split, serve

    settings = _settings()
    options = Options(
        ref=args.ref if "@" in args.ref or "/" in args.ref else f"{args.ref}@{_production(args)}",
        store_uri=args.store or settings.store_uri or None, objects_uri=args.objects or settings.objects_uri or None,
        shadow=args.shadow, split=parse_split(args.split), poll_seconds=args.poll, monitor=not args.no_monitor,
        trusted=args.trusted, caller_header=args.caller_header, token=args.token or None, keep_rows=args.keep_rows,
        compile_models=not args.no_compile,
    )  # fmt: skip
    if options.shadow and options.split:
        raise UsageError("use --shadow or --split, not both")
    if args.poll <= 0:
        raise UsageError("--poll must be a positive number of seconds")
    serve(options, host=args.host, port=args.port, workers=args.workers)
    return 0


def _read_table(path: str) -> Any:
    import pandas as pd

    try:
        if path.endswith((".parquet", ".pq")) or os.path.isdir(path):
            return pd.read_parquet(path)
        if path.endswith((".csv", ".csv.gz", ".tsv")):
            return pd.read_csv(path, sep="\t" if path.endswith(".tsv") else ",")
    except FileNotFoundError:
        raise UsageError(f"{path!r} does not exist") from None
    except (ValueError, OSError) as error:
        raise UsageError(f"cannot read {path!r}: {error}") from None
    raise UsageError(f"--data takes a .parquet or .csv file, not {path!r}")


def cmd_gate(args: argparse.Namespace) -> int:
    """Exit 0 when VERSION beats the version it would replace by --min-delta on --data, else 1."""
    from .loop.gate import gate

    frame = _read_table(args.data)
    if args.label not in frame.columns:
        columns = ", ".join(map(str, frame.columns[:12]))
        raise UsageError(f"--data has no label column {args.label!r} (columns: {columns})")
    labels = frame.pop(args.label).to_numpy()
    from .config import model_cache_dir

    cache = model_cache_dir()
    publishers = tuple(_settings().trusted_publishers)
    verdict = gate(_open(args), login_name(), args.model, args.version, frame, labels, args.against, args.metric,
                   args.min_delta, args.promote, cache, args.trusted, publishers)  # fmt: skip
    needed = f"(needed {args.min_delta:+.4f})"
    if args.json:
        print(dumps(verdict, indent=2))
    elif verdict["passed"]:
        print(f"PASS {verdict['summary']} {needed}")
        promotion = verdict.get("promotion")
        if promotion == "requested":
            print("promotion requested: another person approves it")
        elif promotion == "done":
            print(f"promoted {args.model}/{args.version} to production")
    else:
        print(f"FAIL {verdict['summary']} {needed}", file=sys.stderr)
    return 0 if verdict["passed"] else 1


def cmd_worker(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .loop.jobs import Runner
    from .loop.policy import Loop

    store = _open(args)
    runner = Runner(store, Path(args.root).resolve(), _settings().job_command)
    loop = Loop(store, login_name())
    if args.job:
        job = runner.run_one(args.job)
        if job is None:
            raise UsageError(f"job {args.job!r} is not queued (or its lease has not run out)")
        print(f"job {job.id}: {job.status}" + (f" (run {job.run_id})" if job.run_id else ""))
        return 0 if job.status == "succeeded" else 1
    print(f"jupyter mlm worker: running jobs from {store.location.display_url} (Ctrl-C to stop)", flush=True)
    try:
        count = runner.run(poll_seconds=args.poll, once=args.once, evaluate=loop.evaluate_all)
    except KeyboardInterrupt:
        return 0
    if args.once:
        print(f"ran {count} job(s)")
    return 0


def cmd_job_exec(args: argparse.Namespace) -> int:
    """Execute one job's notebook here, without leasing it: what a c.MLM.job_command runs."""
    from pathlib import Path

    from .loop.jobs import execute

    store = _open(args)
    ok, result, run_id, digest = execute(store, store.get_job(args.job_id), Path(args.root).resolve())
    print(dumps({"ok": ok, "run": run_id, "notebook_digest": digest, **result}))
    return 0 if ok else 1


def cmd_jobs(args: argparse.Namespace) -> int:
    from .registry.card import when

    jobs = _open(args).jobs(args.model)
    if args.json:
        print(dumps(jobs, indent=2))
        return 0
    rows = [[j.id[:10], when(j.created_ms), j.model or "", j.status, str(j.attempts), j.parameters.get("notebook", ""),
             j.run_id or ""] for j in jobs[-args.limit:]]  # fmt: skip
    print(_table(rows, ["JOB", "QUEUED", "MODEL", "STATUS", "TRIES", "NOTEBOOK", "RUN"]) if rows else "no jobs")
    return 0


def _production(args: argparse.Namespace) -> str:
    from .registry import Governance

    return Governance(_open(args), login_name()).policy().production


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

    fsck = sub.add_parser(
        "fsck", help="check the database, every referenced blob and the audit chain (exit 1 on a problem)"
    )
    fsck.add_argument("--quick", action="store_true", help="check blobs are present without re-hashing them")
    fsck.add_argument("--json", action="store_true", help="print JSON")
    fsck.set_defaults(func=cmd_fsck)

    gc = sub.add_parser("gc", help="unreferenced blobs and stale temporaries (a dry run unless --apply)")
    gc.add_argument("--apply", action="store_true", help="delete them (default: only list)")
    gc.add_argument("--grace", type=float, default=3600.0,
                    help="keep anything younger than this many seconds (default 3600)")  # fmt: skip
    gc.add_argument("--json", action="store_true", help="print JSON")
    gc.set_defaults(func=cmd_gc)

    imports = sub.add_parser(
        "import-mlflow", help="copy an MLflow store's experiments, runs and registered models here"
    )
    imports.add_argument(
        "--tracking-uri", required=True, help="the MLflow tracking URI (sqlite:///mlflow.db, http://…)"
    )
    imports.add_argument("--experiment", action="append", help="only this experiment (repeatable)")
    imports.add_argument("--json", action="store_true", help="print JSON")
    imports.set_defaults(func=cmd_import_mlflow)

    exports = sub.add_parser("export-mlflow", help="copy this store's experiments, runs and models into MLflow")
    exports.add_argument("--tracking-uri", required=True, help="the MLflow tracking URI to write to")
    exports.add_argument("--experiment", action="append", help="only this experiment (repeatable)")
    exports.add_argument("--artifact-root", help="where new MLflow experiments keep artifacts (MLflow's default)")
    exports.add_argument("--trusted", action="store_true", help="load pickled versions others registered")
    exports.add_argument("--json", action="store_true", help="print JSON")
    exports.set_defaults(func=cmd_export_mlflow)

    export = sub.add_parser("export", help="write a model version as an MLflow model folder")
    export.add_argument("ref", metavar="MODEL[@STAGE|@ALIAS|/VERSION]", help="what to export (default: production)")
    export.add_argument("--format", default="mlflow", help="mlflow (MLmodel, environment files, signature)")
    export.add_argument("-o", "--output", required=True, help="the folder to create")
    export.add_argument("--trusted", action="store_true", help="load a pickled version others registered")
    export.set_defaults(func=cmd_export)

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
    diff.add_argument(
        "--all", action="store_true", help="also show volatile notebook fields (execution counts, timings, …)"
    )
    diff.add_argument("--root", default=".", help="--checkpoint: the Jupyter server's root folder (default: here)")
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
        decide.add_argument(
            "--as",
            dest="as_user",
            metavar="USER",
            help="decide as USER (only if the policy allows named approvers)",
        )
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

    audit = sub.add_parser(
        "audit", help="the registry's audit trail: verify it, anchor its head outside the store, or list events"
    )
    audit.add_argument("action", choices=["verify", "anchor", "log"])
    audit.add_argument("--model", help="only this model's events (log)")
    audit.add_argument("--limit", type=_positive, help="newest N events (log)")
    audit.add_argument("--anchor", metavar="HASH|FILE", help="verify: also prove the log extends this anchor")
    audit.add_argument("--to", metavar="FILE", help="anchor: append the anchor line to FILE")
    audit.add_argument("--json", action="store_true", help="print JSON")
    audit.set_defaults(func=cmd_audit)

    monitor = sub.add_parser("monitor", help="drift, performance and latency of a model over a window")
    monitor.add_argument("model", help="NAME (production), NAME@ALIAS or NAME/VERSION")
    monitor.add_argument("--window", default="1d", help="how far back: 1h, 1d, 7d, … or all (default 1d)")
    monitor.add_argument("--version", type=_positive, help="this version instead of production")
    monitor.add_argument("--json", action="store_true", help="print JSON")
    monitor.set_defaults(func=cmd_monitor)

    alerts = sub.add_parser("alerts", help="alerts raised by monitoring rules, newest first")
    alerts.add_argument("--model", help="only this model's")
    alerts.add_argument("--limit", type=_positive, default=50, help="at most N (default 50)")
    alerts.add_argument("--json", action="store_true", help="print JSON")
    alerts.set_defaults(func=cmd_alerts)

    gate = sub.add_parser("gate", help="CI gate: does VERSION beat production on held-out data? (exit 0 / 1)")
    gate.add_argument("model", help="model name")
    gate.add_argument("version", type=_positive, help="the candidate version")
    gate.add_argument("--against", default="production", help="stage, alias or NAME/N to beat (default production)")
    gate.add_argument("--metric", default="roc_auc", help="roc_auc, accuracy, f1, log_loss, rmse, … (default roc_auc)")
    gate.add_argument("--min-delta", type=float, default=0.0, help="how much better it must be (default 0)")
    gate.add_argument("--data", required=True, help="held-out rows: .parquet or .csv with a label column")
    gate.add_argument("--label", default="label", help="the label column of --data (default label)")
    gate.add_argument("--promote", action="store_true", help="when it passes, promote (or request promotion)")
    gate.add_argument("--trusted", action="store_true", help="load pickled versions others registered without warning")
    gate.add_argument("--json", action="store_true", help="print JSON")
    gate.set_defaults(func=cmd_gate)

    worker = sub.add_parser("worker", help="run queued retraining jobs and decide promotion/rollback policies")
    worker.add_argument("--once", action="store_true", help="run what is queued, then stop")
    worker.add_argument("--job", metavar="ID", help="run this job only")
    worker.add_argument("--poll", type=float, default=2.0, help="seconds between looks at the queue")
    worker.add_argument("--root", default=".", help="folder job notebooks are relative to (default: here)")
    worker.set_defaults(func=cmd_worker)

    job_exec = sub.add_parser("job-exec", help="execute one job's notebook here (what c.MLM.job_command runs)")
    job_exec.add_argument("job_id")
    job_exec.add_argument("--root", default=".", help="folder job notebooks are relative to (default: here)")
    job_exec.set_defaults(func=cmd_job_exec)

    jobs = sub.add_parser("jobs", help="retraining jobs, oldest first")
    jobs.add_argument("--model", help="only this model's")
    jobs.add_argument("--limit", type=_positive, default=50, help="the last N (default 50)")
    jobs.add_argument("--json", action="store_true", help="print JSON")
    jobs.set_defaults(func=cmd_jobs)

    serve = sub.add_parser("serve", help="serve a model over HTTP, following its stage or alias (MLflow-compatible)")
    serve.add_argument("ref", metavar="MODEL[@STAGE|@ALIAS]", help="what to serve (default stage: production)")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=5100, help="port (default 5100)")
    serve.add_argument("--workers", type=_positive, default=1, help="processes sharing the port (default 1)")
    serve.add_argument("--shadow", metavar="@ALIAS", help="also predict with this version on a copy of the traffic")
    serve.add_argument("--split", metavar="ARM=W,…", help="A/B arms by alias or stage, e.g. champion=90,challenger=10")
    serve.add_argument("--caller-header", default="X-MLM-Caller", help="header that keeps a caller on one arm")
    serve.add_argument("--poll", type=float, default=1.0, help="seconds between checks for a moved stage/alias")
    serve.add_argument("--no-monitor", action="store_true", help="do not log requests to monitoring")
    serve.add_argument("--keep-rows", action="store_true",
                       help="also store request rows (Parquet), for retraining on labeled production rows")  # fmt: skip
    serve.add_argument("--trusted", action="store_true", help="load pickled versions others registered without warning")
    serve.add_argument("--no-compile", action="store_true",
                       help="predict with scikit-learn's own methods (default: its arithmetic, checked)")  # fmt: skip
    serve.add_argument("--token", default=os.environ.get("MLM_SERVE_TOKEN", ""),
                       help="require Authorization: Bearer TOKEN (default $MLM_SERVE_TOKEN)")  # fmt: skip
    serve.set_defaults(func=cmd_serve)

    policy = sub.add_parser("policy", help="show or set the registry's stage policy (shared by every face)")
    policy.add_argument("action", nargs="?", choices=["show", "set"], default="show")
    policy.add_argument("--stages", metavar="A,B,…", help="stage names, the first is where versions start")
    policy.add_argument("--production", metavar="STAGE", help="the stage with one version at a time")
    policy.add_argument("--archived", metavar="STAGE", help="where a replaced production version goes")
    policy.add_argument("--require-approval-for", metavar="STAGE,…", help="stages that need another's approval")
    policy.add_argument("--approvers", metavar="USER,…", help="who may approve (empty: anyone but the requester)")
    policy.add_argument("--named-approvers", type=_on_off, metavar="on|off",
                        help="accept --as NAME (shared accounts only)")  # fmt: skip
    policy.add_argument("-m", "--comment", help="why")
    policy.add_argument("--json", action="store_true", help="print JSON")
    policy.set_defaults(func=cmd_policy)
    from .cli_runs import add_parsers

    add_parsers(sub)
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
    except BrokenPipeError:
        # `jupyter mlm audit log | head`: the reader had enough. Quietly, as other tools end; the
        # interpreter's own flush at exit must not hit the closed pipe again either.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
