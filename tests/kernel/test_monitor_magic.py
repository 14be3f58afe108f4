"""%mlm_monitor in a real kernel: the ipywidgets dashboard (and that it follows the store while
shown), rules and alerts from the magic, and its error paths."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .test_magics import errors, execute, text

SETUP = (
    "%load_ext jupyter_mlm\nimport numpy as np, pandas as pd\nimport jupyter_mlm as mlm\n"
    "rng = np.random.default_rng(0)\n"
    "def batch(n, shift=0.0):\n"
    "    return pd.DataFrame({'tenure': rng.normal(30 + 20 * shift, 10, n), 'plan': rng.choice(['a', 'b'], n)})\n"
    "mlm.register_model({'w': 1}, 'churn', reference_data=batch(3000))\n"
    "mlm.transition('churn', 1, 'production')\n"
    "mlm.monitor.log('churn', batch(500), predictions=rng.integers(0, 2, 500))"
)


def test_dashboard_rules_and_alerts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cells = execute(
        [
            SETUP,
            "%mlm_monitor rule churn rows < 100000 per 1h",
            "dash = %mlm_monitor churn --window all --refresh 0.3\ndash",
            "print(dash.summary.value)",
            "import time\nmlm.monitor.log('churn', batch(700, shift=1.0))\ntime.sleep(2)\nprint(dash.summary.value)\n"
            "print('drift' in dash.features.value, '<svg' in dash.charts.value)\ndash.stop()",
            "%mlm_monitor rules churn",
            "%mlm_monitor alerts churn",
            "%mlm_monitor",
            "%mlm_monitor rule churn auc < 0.7",
            "%mlm_monitor nope",
            "%mlm_monitor churn --every soon",
            "%mlm_monitor rule churn drift_share >= 0.9 --retrain train.ipynb --param C=0.5 --param note=fast",
            "%mlm_monitor rule churn rows > 1 --param C=1",
        ],
        tmp_path / "store", tmp_path, monkeypatch,
    )  # fmt: skip
    assert all(errors(c) == [] for c in cells[:7]), [errors(c) for c in cells[:7]]
    assert "on churn: rows < 100000 per 1h" in text(cells[1])
    bundle = cells[2].outputs[-1]["data"]
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert "500 rows in 1 batch(es) · v1" in text(cells[3])
    # The dashboard redrew by itself when the new batch arrived.
    assert "1,200 rows in 2 batch(es) · v1" in text(cells[4]) and "True True" in text(cells[4])
    assert "rows < 100000 per 1h" in text(cells[5])
    # The first batch came before the rule; the second fired it, over both batches' rows.
    assert text(cells[6]).count("rows < 100000 per 1h") == 1 and "= 1200" in text(cells[6])
    assert errors(cells[7]) == [
        "UsageError: %mlm_monitor needs a model; forms: %mlm_monitor MODEL [--window 1d] [--every 1h] "
        "[--refresh 10] | %mlm_monitor rule MODEL EXPRESSION [--retrain NOTEBOOK [--param K=V …]] | "
        "%mlm_monitor rules MODEL | %mlm_monitor alerts [MODEL]"
    ]
    assert "unknown metric 'auc'" in errors(cells[8])[0]
    assert "no registered model 'nope'" in errors(cells[9])[0]
    assert "a window is a number and a unit" in errors(cells[10])[0]
    assert errors(cells[11]) == [] and "drift_share >= 0.9 → retrain train.ipynb" in text(cells[11])
    from jupyter_mlm.store import open_store

    store = open_store(str(tmp_path / "store"))
    [with_action] = [r for r in store.rules("churn") if r.action]
    assert json.loads(with_action.action) == {
        "retrain": {"notebook": "train.ipynb", "parameters": {"C": 0.5, "note": "fast"}}
    }
    store.close()
    assert "--param goes with --retrain" in errors(cells[12])[0]
