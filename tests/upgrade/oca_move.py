"""A database moved from OCA's queue_job 18.0 to this one, step by step.

``MoveStack`` owns a throwaway cluster and one database. It installs OCA's
queue_job (with the probe addon of tests/upgrade/addons) from OCA's sources,
runs scripts of tests/upgrade/in_shell in ``odoo-bin shell``, then switches
the addons path to this repository and runs ``odoo-bin -u queue_job``.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import psycopg2.extras
from harness.odoo_logs import LogRecord, _tail, log_problems
from harness.odoo_oneshot import _oneshot_conf, _run_oneshot, init_database
from harness.odoo_setup import REPO_ROOT, OdooError, _odoo_env, default_addons_path, odoo_bin_cmd
from harness.pgcluster import PgCluster

UPGRADE_DIR = Path(__file__).resolve().parent
PROBE_ADDONS = UPGRADE_DIR / "addons"
IN_SHELL = UPGRADE_DIR / "in_shell"
DB_NAME = "qj_from_oca"
MODULES = ("queue_job", "queue_job_upgrade_probe")
OCA_ENV = "QUEUE_JOB_OCA_PATH"


def oca_root(path: str | os.PathLike[str]) -> Path:
    """The directory holding OCA's ``queue_job`` (given the repository or the addon itself)."""
    root = Path(path).expanduser().resolve()
    if root.name == "queue_job" and (root / "__manifest__.py").is_file():
        root = root.parent
    manifest = root / "queue_job" / "__manifest__.py"
    if not manifest.is_file():
        raise ValueError(f"{root} holds no queue_job addon")
    if "Odoo Community Association" not in manifest.read_text(encoding="utf-8"):
        raise ValueError(f"{manifest} is not OCA's queue_job")
    return root


def _odoo_dirs() -> list[str]:
    ours = {str(REPO_ROOT.resolve()), str((REPO_ROOT / "tests" / "addons").resolve())}
    return [path for path in default_addons_path() if path not in ours]


class MoveStack:
    """One cluster, one database: OCA's queue_job first, ours after ``upgrade()``."""

    def __init__(self, oca: Path) -> None:
        self.oca = oca
        self.cluster = PgCluster(fast=True, keep=os.environ.get("UPGRADE_KEEP") == "1")
        self.addons_path = [*_odoo_dirs(), str(oca), str(PROBE_ADDONS)]
        self._runs = 0

    @property
    def ours_addons_path(self) -> list[str]:
        return [*_odoo_dirs(), str(REPO_ROOT.resolve()), str(PROBE_ADDONS)]

    @property
    def workdir(self) -> Path:
        path = self.cluster.socket_dir / "odoo"
        path.mkdir(parents=True, exist_ok=True)
        return path

    def start(self) -> None:
        self.cluster.start()

    def close(self) -> None:
        self.cluster.close()

    def install_oca(self) -> list[LogRecord]:
        result = init_database(self.cluster, DB_NAME, MODULES, addons_path=self.addons_path)
        return result.errors

    def upgrade(self, timeout: float = 900) -> tuple[Path, list[LogRecord]]:
        """``odoo-bin -u queue_job`` with this repository's queue_job; returns its log and problems."""
        self.addons_path = self.ours_addons_path
        self._runs += 1
        stem = f"upgrade-{self._runs}"
        conf, log_path = _oneshot_conf(
            self.cluster, self.workdir, stem, addons_path=self.addons_path, server_wide_modules=("base", "web"),
            http_port=None, log_level="info", extra_options=None, sections=None,
        )
        command = [*odoo_bin_cmd(), "-c", str(conf), "-d", DB_NAME, "-u", "queue_job", "--stop-after-init"]
        code = _run_oneshot(command, cwd=self.workdir, output_path=self.workdir / f"{stem}.out",
                            env=_odoo_env(), timeout=timeout)
        text = log_path.read_text(encoding="utf-8", errors="replace") if log_path.exists() else ""
        if code != 0:
            raise OdooError(f"odoo-bin -u queue_job exited with {code}", log_tail=_tail(log_path), log_path=log_path)
        return log_path, log_problems(text)

    def shell(self, script: str, params: dict[str, Any] | None = None, timeout: float = 600) -> Any:
        """Run in_shell/<script> in ``odoo-bin shell``; return the JSON it wrote."""
        self._runs += 1
        stem = f"shell-{self._runs}-{Path(script).stem}"
        conf, log_path = _oneshot_conf(
            self.cluster, self.workdir, stem, addons_path=self.addons_path, server_wide_modules=("base", "web"),
            http_port=None, log_level="info", extra_options=None, sections=None,
        )
        result_path = self.workdir / f"{stem}.json"
        env = _odoo_env({
            "QUEUE_JOB_UPGRADE_PARAMS": json.dumps({**(params or {}), "result_path": str(result_path)}),
            "ODOO_QUEUE_JOB_CHANNELS": "root:0",
        })
        command = [*odoo_bin_cmd(), "shell", "-c", str(conf), "-d", DB_NAME, "--no-http"]
        with open(IN_SHELL / script, "rb") as stdin, open(self.workdir / f"{stem}.out", "wb") as out:
            proc = subprocess.run(command, stdin=stdin, stdout=out, stderr=subprocess.STDOUT, cwd=self.workdir,
                                  env=env, timeout=timeout, check=False)
        if proc.returncode != 0 or not result_path.exists():
            raise OdooError(f"odoo-bin shell {script} failed (exit code {proc.returncode})",
                            log_tail=_tail(log_path) + "\n--- output ---\n" + _tail(self.workdir / f"{stem}.out"),
                            log_path=log_path)
        return json.loads(result_path.read_text())

    # -- SQL -------------------------------------------------------------------

    def query(self, sql: str, params: Any = None) -> list[dict[str, Any]]:
        conn = self.cluster.connect(DB_NAME, autocommit=True)
        try:
            with conn.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
                cur.execute(sql, params)
                return [dict(row) for row in cur.fetchall()] if cur.description else []
        finally:
            conn.close()

    def jobs(self) -> dict[str, dict[str, Any]]:
        return {row["uuid"]: row for row in self.query("SELECT * FROM queue_job")}
