"""Smoke test of bench/run.py: the quick benchmark of our queue runs end to end.

Only that every figure of the table is there and that every job was drained
is asserted; speed never is (the machine may be busy).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from bench.lib.measures import QUICK
from bench.lib.report import Row, rows

pytestmark = pytest.mark.odoo


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("bench") / "results.json"
    proc = subprocess.run(
        [sys.executable, str(REPO_ROOT / "bench" / "run.py"), "--quick", "--out", str(out)],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=1800, check=False,
    )
    assert proc.returncode == 0, f"bench/run.py failed:\n{proc.stdout}\n{proc.stderr[-6000:]}"
    assert "ours" in proc.stdout, proc.stdout
    data: dict[str, Any] = json.loads(out.read_text())
    return data


def test_only_ours_without_oca(results: dict[str, Any]) -> None:
    assert set(results["results"]) == {"ours"}
    assert results["meta"]["quick"] is True
    assert results["meta"]["workers"] == 2
    assert not results["results"]["ours"].get("error")


def test_every_figure_is_there(results: dict[str, Any]) -> None:
    ours = results["results"]["ours"]
    missing = [row.label for row in rows(QUICK, 2) if isinstance(row, Row) and row.get(ours) is None]
    assert not missing, missing


def test_every_job_was_drained(results: dict[str, Any]) -> None:
    ours = results["results"]["ours"]
    for kind in ("with_delay", "bulk"):
        assert ours["enqueue"][kind]["stored"] == QUICK.enqueue, kind
    drains = {(f"drain {channels}", QUICK.drain): value for channels, value in ours["drain"].items()}
    drains.update({(f"backlog {size}", QUICK.backlog_drain): value["drain"]
                   for size, value in ours["backlog"].items()})
    assert {name for name, _size in drains} == {
        "drain root:2", "drain root:4", *(f"backlog {size}" for size in QUICK.backlogs)}
    for (name, size), drained in drains.items():
        assert drained["done"] == drained["jobs"] == size, (name, drained)
        assert drained["unfinished"] == 0 and not drained["timed_out"], (name, drained)
    assert ours["latency"]["completed"] == QUICK.latency
    assert len(ours["latency"]["raw_start_ms"]) == QUICK.latency
    assert ours["first_start"]["unfinished_after"] == 0
