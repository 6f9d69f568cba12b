"""Find Odoo 18 and write its configuration, without importing Odoo here.

Also home of the harness' exceptions, raised by every Odoo run.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import subprocess
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # psycopg2 stays unimported: finding Odoo must work on a machine without it
    from .pgcluster import PgCluster

__all__ = [
    "HOW_TO_GET_ODOO",
    "REPO_ROOT",
    "OdooError",
    "OdooNotAvailable",
    "database_options",
    "default_addons_path",
    "odoo_bin_cmd",
    "odoo_importable",
    "odoo_package_dir",
    "odoo_unavailable_reason",
    "odoo_version",
    "write_odoo_conf",
]

REPO_ROOT = Path(__file__).resolve().parents[2]

# One line for every place that finds no Odoo (README.rst says the same at more length).
HOW_TO_GET_ODOO = (
    "Get Odoo 18: git clone -b 18.0 --depth 1 https://github.com/odoo/odoo && python3 -m pip install"
    " -r odoo/requirements.txt -e ./odoo (Debian/Ubuntu: sudo odoo/setup/debinstall.sh first), or Odoo's"
    " 18.0 nightly .deb, or ODOO_PYTHON=<a python that imports odoo>; without Odoo on this machine:"
    " docker compose -f docker/compose.yaml up (docker/README.rst)"
)


class OdooError(RuntimeError):
    """An Odoo process failed; ``log_tail`` holds the end of its log."""

    def __init__(self, message: str, log_tail: str = "", log_path: Path | None = None) -> None:
        super().__init__(f"{message}\n--- log tail ({log_path}) ---\n{log_tail}" if log_tail else message)
        self.log_tail = log_tail
        self.log_path = log_path


class OdooNotAvailable(OdooError):
    """``import odoo`` does not work with the interpreter the harness uses."""


# --------------------------------------------------------------- discovery
def _python() -> str:
    # ODOO_PYTHON lets a developer point at a virtualenv holding Odoo while
    # running pytest from another interpreter.
    return os.environ.get("ODOO_PYTHON") or sys.executable


@functools.cache
def _probe_odoo() -> tuple[str | None, str]:
    """(version, diagnostics) from importing odoo in a child interpreter.

    A child keeps Odoo's import-time monkeypatching out of the test process.
    """
    code = "import odoo, odoo.cli, odoo.release; print(odoo.release.version)"
    try:
        proc = subprocess.run([_python(), "-c", code], capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, str(exc)
    if proc.returncode != 0:
        # The last line of a traceback names the actual problem.
        lines = proc.stderr.strip().splitlines()
        return None, lines[-1] if lines else f"exit code {proc.returncode}"
    return proc.stdout.strip().splitlines()[-1], ""


def odoo_importable() -> bool:
    """True when ``import odoo`` works in the interpreter used to run Odoo."""
    return _probe_odoo()[0] is not None


def odoo_version() -> str | None:
    """Odoo's release string (e.g. ``"18.0-20250421"``), None if not importable."""
    return _probe_odoo()[0]


def odoo_unavailable_reason() -> str | None:
    """Why Odoo cannot be used, or None when it can (for skip messages)."""
    version, diagnostics = _probe_odoo()
    if version is None:
        return f"`import odoo` fails with {_python()}: {diagnostics}"
    if not version.startswith("18."):
        return f"Odoo {version} found, the harness targets Odoo 18"
    return None


def odoo_package_dir() -> Path:
    """Directory of the ``odoo`` package, located without importing it."""
    if os.environ.get("ODOO_PYTHON"):
        proc = subprocess.run(
            [_python(), "-c", "import importlib.util as u; print(u.find_spec('odoo').origin)"],
            capture_output=True, text=True, timeout=60,
        )
        if proc.returncode != 0:
            raise OdooNotAvailable(f"cannot locate odoo with {_python()}: {proc.stderr.strip()}")
        return Path(proc.stdout.strip()).parent
    spec = importlib.util.find_spec("odoo")
    if spec is None or spec.origin is None:
        raise OdooNotAvailable(f"the odoo package is not installed for {_python()}")
    return Path(spec.origin).parent


def odoo_bin_cmd() -> list[str]:
    """argv prefix that starts Odoo's command line (append ``-c conf ...``).

    Prefers the ``odoo-bin`` of the installation; falls back to the harness'
    own launcher file.  Never ``python -c``: see odoo_launcher.py.
    """
    odoo_bin = odoo_package_dir().parent / "odoo-bin"
    if odoo_bin.is_file():
        return [_python(), str(odoo_bin)]
    return [_python(), str(Path(__file__).with_name("odoo_launcher.py"))]


def _holds_addons(path: Path) -> bool:
    if not path.is_dir():
        return False
    return any((child / "__manifest__.py").is_file() for child in path.iterdir() if child.is_dir())


def default_addons_path(extra: Iterable[str | os.PathLike[str]] = ()) -> list[str]:
    """Odoo's own addons, this repository's addons and ``tests/addons``.

    Directories without any module are left out: Odoo rejects an addons path
    entry that holds no module, which would happen while the repository's
    addons are still being written.
    """
    odoo_dir = odoo_package_dir()
    candidates = [odoo_dir / "addons", odoo_dir.parent / "addons", REPO_ROOT, REPO_ROOT / "tests" / "addons"]
    candidates += [Path(p) for p in extra]
    paths: list[str] = []
    for candidate in candidates:
        resolved = str(candidate.resolve())
        if resolved not in paths and _holds_addons(candidate):
            paths.append(resolved)
    return paths


def database_options(cluster: PgCluster) -> dict[str, Any]:
    """Odoo ``[options]`` that connect to ``cluster`` over TCP as its login role."""
    return {
        "db_host": cluster.host,
        "db_port": cluster.port,
        "db_user": cluster.user,
        "db_password": cluster.password,
    }


# ------------------------------------------------------------------ config
def _render_conf_value(key: str, value: Any) -> str:
    if isinstance(value, bool):
        text = "True" if value else "False"
    elif isinstance(value, (list, tuple, set, frozenset)):
        text = ",".join(str(item) for item in value)
    else:
        text = str(value)
    if "\n" in text:
        raise ValueError(f"config value for {key!r} must be a single line")
    return text


def write_odoo_conf(
    path: str | os.PathLike[str],
    *,
    sections: Mapping[str, Mapping[str, Any]] | None = None,
    **options: Any,
) -> Path:
    """Write an Odoo config file.

    ``options`` go to ``[options]``; ``sections`` adds other sections, e.g.
    ``sections={"queue_job": {"channels": "root:2"}}``.  Sequences are
    comma-joined, booleans become True/False, None values are omitted.
    """
    blocks = {"options": options, **(sections or {})}
    lines: list[str] = []
    for section, values in blocks.items():
        lines.append(f"[{section}]")
        for key, value in values.items():
            if value is not None:
                lines.append(f"{key} = {_render_conf_value(key, value)}")
        lines.append("")
    conf_path = Path(path)
    conf_path.parent.mkdir(parents=True, exist_ok=True)
    conf_path.write_text("\n".join(lines), encoding="utf-8")
    return conf_path


def _workdir(cluster: PgCluster, workdir: str | os.PathLike[str] | None) -> Path:
    path = Path(workdir) if workdir is not None else cluster.socket_dir / "odoo"
    (path / "data").mkdir(parents=True, exist_ok=True)
    return path


def _odoo_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env["TZ"] = "UTC"
    env["PYTHONUNBUFFERED"] = "1"
    # libpq variables from the developer's shell must not redirect Odoo to
    # another server: the conf file is the only source of truth.
    for name in ("PGHOST", "PGPORT", "PGUSER", "PGPASSWORD", "PGDATABASE", "ODOO_RC", "OPENERP_SERVER"):
        env.pop(name, None)
    env.update(extra or {})
    return env
