"""The engine package as a whole: doctests, and that it imports no Odoo."""

from __future__ import annotations

import doctest
import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

import engine

ENGINE_DIR = Path(engine.__file__).resolve().parent
MODULES = ["channels", "codec", "graph", "live_channels", "retry", "schedule", "signing", "sql", "states"]


def test_every_engine_module_is_listed_here():
    on_disk = sorted(p.stem for p in ENGINE_DIR.glob("*.py") if p.stem != "__init__")
    assert on_disk == sorted(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_doctests_pass(name):
    module = importlib.import_module(f"engine.{name}")
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS, verbose=False)
    assert result.failed == 0
    # A module whose source shows examples must actually have run them
    # (guards against examples that doctest silently does not find).
    if ">>>" in Path(module.__file__).read_text():
        assert result.attempted > 0


def test_channels_doctests_are_found_and_run():
    from engine import channels

    result = doctest.testmod(channels)
    assert result.failed == 0
    # The module docstring (3 examples) and parse_channels (1 example).
    assert result.attempted >= 4


# Third-party libraries the engine may use: declared in the manifest's
# external_dependencies, setup.py and .ci/requirements.txt.
DECLARED_DEPENDENCIES = {"cronsim"}


def test_engine_imports_only_the_standard_library():
    """Importing every engine module pulls in neither Odoo, psycopg2, nor the addon
    (only the standard library and the declared dependencies)."""
    code = f"""
import json, sys
before = set(sys.modules)
sys.path.insert(0, {str(ENGINE_DIR.parent)!r})
import {", ".join(f"engine.{name}" for name in MODULES)}
new = sorted(set(sys.modules) - before)
print(json.dumps(new))
"""
    out = subprocess.run(
        [sys.executable, "-I", "-c", code], capture_output=True, text=True, check=True
    ).stdout
    new_modules = json.loads(out)
    assert "engine.channels" in new_modules
    foreign = [
        name
        for name in new_modules
        if name.split(".")[0] not in sys.stdlib_module_names
        and name.split(".")[0] not in {"engine", *DECLARED_DEPENDENCIES}
        # sysconfig's generated module (loaded by zoneinfo's tzpath lookup) is the standard library's own
        and not name.startswith("_sysconfigdata_")
    ]
    assert foreign == []
    assert not any(name.split(".")[0] in ("odoo", "queue_job", "psycopg2") for name in new_modules)
