"""Make the job queue engine importable without Odoo.

``queue_job/__init__.py`` imports Odoo, so the engine is not imported as
``queue_job.engine``: the addon directory goes at the front of ``sys.path``
and the engine is imported as the top-level package ``engine``. Its modules
import each other relatively, so they work the same under either name.
"""

from __future__ import annotations

import sys
from pathlib import Path

ADDON_DIR = Path(__file__).resolve().parents[2] / "queue_job"

if not (ADDON_DIR / "engine" / "__init__.py").is_file():
    raise RuntimeError(f"queue_job engine not found under {ADDON_DIR}")

if str(ADDON_DIR) in sys.path:
    sys.path.remove(str(ADDON_DIR))
sys.path.insert(0, str(ADDON_DIR))

import engine  # noqa: E402

if Path(engine.__file__).resolve().parent != ADDON_DIR / "engine":
    raise RuntimeError(
        f"'engine' was imported from {engine.__file__}, not from {ADDON_DIR / 'engine'}: "
        "another module named 'engine' shadows the job queue engine"
    )
