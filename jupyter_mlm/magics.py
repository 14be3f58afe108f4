"""IPython magics: parse a line, call the Python API, display. No logic of their own.

Every error surfaces as one ``UsageError`` line naming the right form.
"""

from __future__ import annotations

import argparse
import ast
import html
import json
import shlex
from typing import Any, NoReturn

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, line_magic, magics_class
from IPython.display import display

from . import tracking
from .errors import MLMError
from .tracking.run import format_duration, status_badge

RUN_FORMS = (
    "%mlm_run start [NAME] [--experiment E] [--tag k=v]… | %mlm_run end [--status failed] | "
    "%mlm_run status | %%mlm_run [NAME] [--experiment E] (cell magic)"
)
LOG_FORMS = (
    "%mlm_log param k=v [k=v…] | %mlm_log param VAR [VAR…] | %mlm_log metric k=v [k=v…] [--step N] | "
    "%mlm_log tag k=v [k=v…] | %mlm_log artifact PATH [--name N] | %mlm_log data PATH [PATH…]"
)

MONITOR_FORMS = (
    "%mlm_monitor MODEL [--window 1d] [--every 1h] [--refresh 10] | "
    "%mlm_monitor rule MODEL EXPRESSION [--retrain NOTEBOOK [--param K=V …]] | "
    "%mlm_monitor rules MODEL | %mlm_monitor alerts [MODEL]"
)
REGISTER_FORMS = "%mlm_register VAR NAME [--reference VAR] [--flavor F] [--description TEXT] [--run RUN]"


class _Parser(argparse.ArgumentParser):
    def __init__(self, prog: str, forms: str) -> None:
        super().__init__(prog=prog, add_help=False, exit_on_error=False)
        self.forms = forms

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message}; forms: {self.forms}")


def _split(line: str, forms: str) -> list[str]:
    try:
        return shlex.split(line)
    except ValueError as exc:
        raise UsageError(f"cannot read {line!r}: {exc}; forms: {forms}") from None


def _parse(parser: _Parser, words: list[str]) -> argparse.Namespace:
    try:
        args, extra = parser.parse_known_args(words)
    except argparse.ArgumentError as exc:
        parser.error(str(exc))
    if extra:
        parser.error(f"unexpected {' '.join(extra)!r}")
    return args


def _rule_action(words: list[str], forms: str) -> tuple[str, dict[str, Any] | None]:
    """``EXPRESSION [--retrain NOTEBOOK [--param K=V …]]`` → (expression, retrain action or None)."""
    if "--retrain" not in words:
        if "--param" in words:
            raise UsageError(f"--param goes with --retrain NOTEBOOK; forms: {forms}")
        return " ".join(words), None
    at = words.index("--retrain")
    expression, rest = " ".join(words[:at]), words[at + 1 :]
    if not expression or not rest or rest[0].startswith("--"):
        raise UsageError(f"say the rule, then --retrain NOTEBOOK.ipynb; forms: {forms}")
    notebook, rest = rest[0], rest[1:]
    parameters: dict[str, Any] = {}
    while rest:
        if rest[0] != "--param" or len(rest) < 2 or "=" not in rest[1]:
            raise UsageError(f"after --retrain NOTEBOOK come --param NAME=VALUE pairs, not {' '.join(rest)!r}")
        name, _, text = rest[1].partition("=")
        try:
            parameters[name] = json.loads(text)
        except ValueError:
            parameters[name] = text
        rest = rest[2:]
    return expression, tracking.monitor_api.retrain(notebook, parameters)


class _Shown:
    """What a magic shows: HTML in a notebook, a line (or a plain table) of text in a terminal
    IPython, nbconvert's text output or a log — never ``<IPython.core.display.HTML object>``."""

    def __init__(self, html_text: str, plain: str) -> None:
        self._html, self._plain = html_text, plain

    def _repr_html_(self) -> str:
        return self._html

    def __repr__(self) -> str:
        return self._plain


def _key_values(pairs: list[str], what: str) -> dict[str, str]:
    result = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"{what} must be k=v, not {pair!r}; e.g. --tag owner=ana")
        result[key] = value
    return result


def _literal(text: str) -> Any:
    """A Python literal when the text is one (``0.01``, ``True``, ``'a b'``), else the text itself."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return text


def _call(func: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return func(*args, **kwargs)
    except MLMError as exc:
        raise UsageError(str(exc)) from None


@magics_class
class MLMMagics(Magics):
    # -- runs --------------------------------------------------------------------------------
    @line_cell_magic
    def mlm_run(self, line: str, cell: str | None = None) -> Any:
        """Start, end or inspect a run; as a cell magic, make the cell one run.

        Forms::

            %mlm_run start [NAME] [--experiment E] [--tag k=v]…   start a run (it becomes the active one)
            %mlm_run end [--status finished|failed|killed]       end the active run (default: finished)
            %mlm_run status                                       show the active run
            %%mlm_run [NAME] [--experiment E] [--tag k=v]…        run the cell as one run: it ends
                                                                  finished, or failed (re-raising) on error

        Examples::

            %mlm_run start baseline --experiment churn --tag owner=ana
            %mlm_run end --status failed
            %%mlm_run deeper-trees --experiment churn
            model.fit(X, y)
        """
        words = _split(line, RUN_FORMS)
        if cell is not None:
            args = self._run_start_args(words, "%%mlm_run")
            run = _call(tracking.start_run, args.name, args.experiment, _key_values(args.tag, "--tag"))
            code = self.shell.transform_cell(cell)  # type: ignore[union-attr]
            try:
                exec(compile(code, f"<%%mlm_run {run.name}>", "exec"), self.shell.user_ns)  # type: ignore[union-attr]
            except BaseException:
                _call(tracking.end_run, "failed")
                raise
            _call(tracking.end_run, "finished")
            return None
        if not words:
            raise UsageError(f"%mlm_run needs a subcommand; forms: {RUN_FORMS}")
        command, rest = words[0], words[1:]
        if command == "start":
            args = self._run_start_args(rest, "%mlm_run start")
            run = _call(tracking.start_run, args.name, args.experiment, _key_values(args.tag, "--tag"))
            display(_Shown(
                f"Started run <b>{html.escape(run.name)}</b> <code>{run.id[:8]}</code> "
                f"in experiment {html.escape(run.experiment)}",
                f"Started run {run.name} ({run.id[:8]}) in experiment {run.experiment}",
            ))  # fmt: skip
            return None
        if command == "end":
            parser = _Parser("%mlm_run end", RUN_FORMS)
            parser.add_argument("--status", default="finished", choices=["finished", "failed", "killed"])
            args = _parse(parser, rest)
            ended = _call(tracking.end_run, args.status)
            if ended is None:
                raise UsageError("no active run to end; start one with %mlm_run start NAME")
            display(_Shown(f"Ended run <b>{html.escape(ended.name)}</b> {status_badge(args.status)}",
                           f"Ended run {ended.name}: {args.status}"))  # fmt: skip
            return None
        if command == "status":
            if rest:
                raise UsageError(f"%mlm_run status takes no arguments; forms: {RUN_FORMS}")
            run = tracking.active_run()
            if run is None:
                display(_Shown(
                    "No active run. Start one with <code>%mlm_run start NAME</code>, "
                    "or just log: a run named after the notebook starts by itself.",
                    "No active run. Start one with %mlm_run start NAME, "
                    "or just log: a run named after the notebook starts by itself.",
                ))  # fmt: skip
                return None
            display(run)
            return None
        raise UsageError(f"unknown %mlm_run subcommand {command!r}; forms: {RUN_FORMS}")

    def _run_start_args(self, words: list[str], prog: str) -> argparse.Namespace:
        parser = _Parser(prog, RUN_FORMS)
        parser.add_argument("name", nargs="?")
        parser.add_argument("--experiment", "-e")
        parser.add_argument("--tag", "-t", action="append", default=[])
        return _parse(parser, words)

    # -- logging -----------------------------------------------------------------------------
    @line_magic
    def mlm_log(self, line: str) -> None:
        """Log params, metrics, tags or artifacts to the active run (one starts by itself if needed).

        Forms::

            %mlm_log param k=v [k=v…]          params: Python literals, else text; fixed once logged
            %mlm_log param VAR [VAR…]          log notebook variables by name (e.g. lr epochs)
            %mlm_log metric k=v [k=v…] [--step N]   numbers; a bare name logs that variable
            %mlm_log tag k=v [k=v…]            tags (may change later)
            %mlm_log artifact PATH [--name N]  a file or folder, stored in the run
            %mlm_log data PATH [PATH…]         data files or folders the run uses (files opened from
                                               Python are recorded anyway; this is for native readers)

        {expr} and $var expand as in any IPython magic.

        Examples::

            %mlm_log param lr=0.01 depth=6 model='xgb'
            %mlm_log param lr epochs
            %mlm_log metric auc={auc:.4f} loss={loss} --step {epoch}
            %mlm_log tag owner=ana
            %mlm_log artifact plots/roc.png --name roc.png
            %mlm_log data data/images/
        """
        words = _split(line, LOG_FORMS)
        if not words:
            raise UsageError(f"%mlm_log needs a kind; forms: {LOG_FORMS}")
        kind, rest = words[0], words[1:]
        if kind == "artifact":
            parser = _Parser("%mlm_log artifact", LOG_FORMS)
            parser.add_argument("path")
            parser.add_argument("--name", "-n")
            args = _parse(parser, rest)
            _call(tracking.log_artifact, args.path, args.name)
            return
        if kind == "data":
            if not rest:
                raise UsageError(f"%mlm_log data needs at least one PATH; forms: {LOG_FORMS}")
            entries = [_call(tracking.log_data, path) for path in rest]
            lines = [
                f"<code>{html.escape(e['path'])}</code> {e['kind']}, {e['size']:,} bytes, "
                f"<code>{e['digest'][:12]}</code>"
                for e in entries
            ]
            plain = [f"{e['path']} {e['kind']}, {e['size']:,} bytes, {e['digest'][:12]}" for e in entries]
            display(_Shown("<br>".join(lines), "\n".join(plain)))
            return
        if kind not in ("param", "params", "metric", "metrics", "tag", "tags"):
            raise UsageError(f"unknown %mlm_log kind {kind!r}; forms: {LOG_FORMS}")
        parser = _Parser(f"%mlm_log {kind}", LOG_FORMS)
        parser.add_argument("items", nargs="*")
        if kind.startswith("metric"):
            parser.add_argument("--step", "-s", type=int)
        args = _parse(parser, rest)
        if not args.items:
            raise UsageError(f"%mlm_log {kind} needs at least one k=v or variable name; forms: {LOG_FORMS}")
        values = self._values(args.items, kind)
        if kind.startswith("param"):
            _call(tracking.log_params, values)
        elif kind.startswith("metric"):
            _call(tracking.log_metrics, values, args.step)
        else:
            _call(tracking.set_tags, values)

    def _values(self, items: list[str], kind: str) -> dict[str, Any]:
        namespace = self.shell.user_ns  # type: ignore[union-attr]
        values: dict[str, Any] = {}
        for item in items:
            key, sep, text = item.partition("=")
            if sep:
                if not key:
                    raise UsageError(f"missing name before '=' in {item!r}; forms: {LOG_FORMS}")
                values[key] = _literal(text)
            elif kind.startswith("tag"):
                raise UsageError(f"tags are k=v, not {item!r}; e.g. %mlm_log tag owner=ana")
            elif item in namespace:
                values[item] = namespace[item]
            else:
                raise UsageError(
                    f"no variable {item!r} in the notebook; define it first or write %mlm_log {kind} {item}=VALUE"
                )
        return values

    # -- diff ---------------------------------------------------------------------------------
    @line_magic
    def mlm_diff(self, line: str) -> Any:
        """Show everything that differs between two runs: params, metrics (better/worse when a
        direction is declared with mlm.set_metric_direction), tags, environment, data, execution
        log and notebook cells. Unchanged sections are collapsed.

        Forms::

            %mlm_diff A B          runs by id, unique id prefix, or name
            %mlm_diff A B --all    also volatile fields (execution counts, timings, widget state)

        Examples::

            %mlm_diff baseline deeper-trees
            report = %mlm_diff 3f2a91c0 7be01d44     # the RunDiff; report.to_dict() for JSON
        """
        words = _split(line, "%mlm_diff A B [--all]")
        strict = "--all" in words
        words = [w for w in words if w != "--all"]
        if len(words) != 2 or any(w.startswith("--") for w in words):
            raise UsageError("%mlm_diff takes two runs: %mlm_diff A B [--all] (ids, id prefixes or names)")
        return _call(tracking.diff, words[0], words[1], strict)

    # -- monitoring --------------------------------------------------------------------------
    @line_magic
    def mlm_monitor(self, line: str) -> Any:
        """Monitor a model: a live dashboard, alert rules, alerts.

        Forms::

            %mlm_monitor MODEL [--window 1d] [--every 1h] [--refresh 10]   the dashboard
            %mlm_monitor rule MODEL EXPRESSION [--retrain NB [--param K=V]]  add an alert rule
            %mlm_monitor rules MODEL                                       list the rules
            %mlm_monitor alerts [MODEL]                                    list alerts

        Examples::

            %mlm_monitor churn
            %mlm_monitor rule churn roc_auc < 0.78
            %mlm_monitor rule churn rows < 100 per 1h
            %mlm_monitor rule churn roc_auc < 0.78 --retrain train.ipynb --param epochs=5
        """
        forms = MONITOR_FORMS
        words = _split(line, forms)
        if not words:
            raise UsageError(f"%mlm_monitor needs a model; forms: {forms}")
        if words[0] == "rule":
            if len(words) < 3:
                raise UsageError(f"%mlm_monitor rule MODEL EXPRESSION, e.g. rule churn roc_auc < 0.78; forms: {forms}")
            expression, action = _rule_action(words[2:], forms)
            rule = _call(tracking.monitor_api.add_rule, words[1], expression, action)
            then = f" → retrain {action['retrain']['notebook']}" if action else ""
            print(f"rule {rule.id[:8]} on {rule.model}: {rule.expression}{then}")
            return None
        if words[0] in ("rules", "alerts"):
            rows = (
                _call(tracking.monitor_api.rules, words[1])
                if words[0] == "rules"
                else _call(tracking.monitor_api.alerts, words[1] if len(words) > 1 else None)
            )
            if not rows:
                print(f"no {words[0]}")
            for row in rows:
                print(
                    f"{row.id[:8]}  {row.model}  {row.expression}"
                    + (f"  = {row.value:.4g}" if words[0] == "alerts" and row.value is not None else "")
                )
            return None
        parser = _Parser("%mlm_monitor", forms)
        parser.add_argument("model")
        parser.add_argument("--window", default="1d")
        parser.add_argument("--every", default="1h")
        parser.add_argument("--refresh", type=float, default=10.0)
        args = _parse(parser, words)
        from .dashboard import dashboard

        return _call(dashboard, args.model, args.window, args.every, args.refresh)

    # -- registry ----------------------------------------------------------------------------
    @line_magic
    def mlm_register(self, line: str) -> Any:
        """Register the model held by a notebook variable as a new version, linked to the active
        run (or the run this kernel ended last), and show its model card.

        Forms::

            %mlm_register VAR NAME [--reference VAR] [--flavor F] [--description TEXT] [--run RUN]

        ``--reference`` names a variable holding the training data (DataFrame or array): it is
        profiled for monitoring and gives the signature. ``--flavor`` forces one of sklearn,
        xgboost, lightgbm, pytorch, onnx, skops, pickle, joblib.

        Examples::

            %mlm_register clf churn --reference X_train
            %mlm_register booster churn --description "weekly retrain"
            v = %mlm_register clf churn       # the ModelVersion
        """
        forms = REGISTER_FORMS
        parser = _Parser("%mlm_register", forms)
        parser.add_argument("var")
        parser.add_argument("name")
        parser.add_argument("--reference")
        parser.add_argument("--flavor")
        parser.add_argument("--description")
        parser.add_argument("--run")
        args = _parse(parser, _split(line, forms))
        namespace = self.shell.user_ns  # type: ignore[union-attr]
        for var in (args.var, args.reference):
            if var is not None and var not in namespace:
                raise UsageError(f"%mlm_register: no variable {var!r} in the notebook; forms: {forms}")
        reference = namespace[args.reference] if args.reference else None
        return _call(
            tracking.register_model,
            namespace[args.var],
            args.name,
            run=args.run,
            flavor=args.flavor,
            reference_data=reference,
            description=args.description,
        )

    # -- listing -----------------------------------------------------------------------------
    @line_magic
    def mlm_runs(self, line: str) -> None:
        """Show runs as a table, newest first.

        Forms::

            %mlm_runs [--experiment E] [--limit N] [--filter EXPR] [--order-by FIELD [DESC]]
            %mlm_runs --group-by FIELD [--experiment E] [--filter EXPR]

        Examples::

            %mlm_runs --experiment churn --limit 20
            %mlm_runs --filter "metrics.auc > 0.8 and status = 'finished'" --order-by "metrics.auc DESC"
            %mlm_runs --group-by params.lr --experiment churn
        """
        forms = "%mlm_runs [--experiment E] [--limit N] [--filter EXPR] [--order-by 'FIELD DESC'] [--group-by FIELD]"
        parser = _Parser("%mlm_runs", forms)
        parser.add_argument("--experiment", "-e")
        parser.add_argument("--limit", "-n", type=int, default=50)
        parser.add_argument("--filter", "-f")
        parser.add_argument("--order-by", "-o")
        parser.add_argument("--group-by", "-g")
        args = _parse(parser, _split(line, forms))
        tracking.flush()
        store = tracking.SESSION.store
        if args.group_by is not None:
            groups, count = _call(store.group_runs, args.group_by, args.experiment, args.filter)
            display(_Shown(*_groups_tables(args.group_by, groups, count)))
            return
        runs, total = _call(store.search_runs, args.experiment, args.filter, args.order_by, args.limit)
        display(_Shown(_runs_table(runs, total), _runs_text(runs, total)))


def _runs_text(runs: list[Any], total: int) -> str:
    """The runs as a plain table: what a terminal or nbconvert shows."""
    if not runs:
        return "No runs match."
    param_keys = sorted({k for r in runs for k in r.params})[:8]
    metric_keys = sorted({k for r in runs for k in r.metrics})[:8]
    header = ["name", "id", "experiment", "status", "duration", *param_keys, *metric_keys]
    rows = [
        [d.info.name, d.info.id[:8], d.info.experiment, d.info.status, format_duration(d.info.start_ms, d.info.end_ms),
         *(d.params.get(k, "") for k in param_keys),
         *(f"{d.metrics[k].value:.6g}" if k in d.metrics else "" for k in metric_keys)]
        for d in runs
    ]  # fmt: skip
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in [header, *rows]]
    if total > len(runs):
        lines.append(f"{len(runs)} of {total} runs")
    return "\n".join(lines)


def _groups_tables(by: str, groups: list[Any], total: int) -> tuple[str, str]:
    """Runs grouped by ``by``: per value the run count and each metric's mean (min–max)."""
    if not groups:
        return "<p>No runs match.</p>", "No runs match."
    keys = sorted({k for g in groups for k in g.metrics})[:8]

    def summary(group: Any, key: str) -> str:
        found = group.metrics.get(key)
        if found is None or found.mean is None:
            return ""
        return f"{found.mean:.4g} ({found.min:.4g}–{found.max:.4g})" if found.count > 1 else f"{found.mean:.4g}"

    header = [by, "runs", *(f"{k} mean (min–max)" for k in keys)]
    rows = [["(none)" if g.value is None else g.value, str(g.runs), *(summary(g, k) for k in keys)] for g in groups]
    more = f"{len(groups)} of {total} values" if total > len(groups) else ""
    head = "".join(f"<th style='text-align:left'>{html.escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td style='text-align:left'>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows
    )
    shown = f"<p style='opacity:0.7'>{more}</p>" if more else ""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in [header, *rows]]
    return (
        f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{shown}",
        "\n".join(lines + ([more] if more else [])),
    )


def _runs_table(runs: list[Any], total: int) -> str:
    if not runs:
        return "<p>No runs match.</p>"
    param_keys = sorted({k for r in runs for k in r.params})[:8]
    metric_keys = sorted({k for r in runs for k in r.metrics})[:8]
    head = "".join(
        f"<th style='text-align:left'>{html.escape(h)}</th>"
        for h in ["name", "id", "experiment", "status", "duration", *param_keys, *metric_keys]
    )
    body = []
    for data in runs:
        info = data.info
        cells = [
            html.escape(info.name),
            f"<code>{info.id[:8]}</code>",
            html.escape(info.experiment),
            status_badge(info.status),
            format_duration(info.start_ms, info.end_ms),
            *(html.escape(data.params.get(k, "")) for k in param_keys),
            *(f"{data.metrics[k].value:.6g}" if k in data.metrics else "" for k in metric_keys),
        ]
        body.append("<tr>" + "".join(f"<td style='text-align:left'>{c}</td>" for c in cells) + "</tr>")
    shown = f"<p style='opacity:0.7'>{len(runs)} of {total} runs</p>" if total > len(runs) else ""
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>{shown}"
