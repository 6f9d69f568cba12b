"""``pip install .`` puts every addon of the repository on ``odoo.addons.<addon>``.

The repository (its addons, setup.py, README.rst: what setup.py reads) is
copied aside, built into a wheel by pip with this interpreter's setuptools,
and the wheel installed by pip into a fresh virtual environment: the same
two steps as ``pip install .`` there, without fetching a build backend from
the network on every run. Every addon directory found at the repository root
is checked, so addons added later are covered without touching this file.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
ADDONS = sorted(p.name for p in REPO_ROOT.iterdir() if (p / "__manifest__.py").is_file())
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc")


def _pip(*args: str, python: str = sys.executable) -> None:
    command = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    if python != sys.executable:
        command += ["--python", python]
    result = subprocess.run([*command, *args], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    for module in ("setuptools", "wheel"):
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"{module} is not installed (python3 -m pip install -r .ci/requirements.txt)")
    source = tmp_path_factory.mktemp("source")
    for addon in ADDONS:
        shutil.copytree(REPO_ROOT / addon, source / addon, ignore=IGNORED)
    for name in ("setup.py", "README.rst"):
        shutil.copy2(REPO_ROOT / name, source / name)
    dist = tmp_path_factory.mktemp("dist")
    _pip("wheel", "--no-deps", "--no-build-isolation", "--no-index", "-w", str(dist), str(source))
    (built,) = dist.glob("*.whl")
    return built


@pytest.fixture(scope="module")
def venv(wheel, tmp_path_factory) -> Path:
    """A fresh virtual environment where pip installed the wheel."""
    path = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True, timeout=120)
    _pip("install", "--no-deps", "--no-index", str(wheel), python=str(path / "bin" / "python"))
    return path


def _run(python: Path, code: str, env: dict[str, str] | None = None) -> object:
    result = subprocess.run([str(python), "-c", code], capture_output=True, text=True, timeout=120, env=env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_every_addon_with_all_its_files_lands_in_odoo_addons(venv):
    assert "queue_job" in ADDONS
    locations = _run(venv / "bin" / "python", f"""
import importlib.util, json
print(json.dumps({{a: importlib.util.find_spec("odoo.addons." + a).submodule_search_locations[0]
                  for a in {ADDONS!r}}}))
""")
    for addon in ADDONS:
        installed = Path(locations[addon])
        assert installed.is_relative_to(venv), f"{addon} found at {installed}, not in the venv"
        expected = {
            p.relative_to(REPO_ROOT / addon)
            for p in (REPO_ROOT / addon).rglob("*")
            if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
        }
        present = {p.relative_to(installed) for p in installed.rglob("*") if p.is_file() and "__pycache__" not in p.parts}
        assert expected - present == set(), f"{addon}: files missing from the installed package"


def test_odoo_finds_the_installed_addons_without_an_addons_path(venv):
    """Odoo's interpreter, given the venv's site-packages, finds every addon there."""
    probe = subprocess.run([sys.executable, "-c", "import odoo"], capture_output=True, timeout=120)
    if probe.returncode != 0:
        pytest.skip("Odoo 18 is not importable here: only the package layout is checked")
    (site_packages,) = venv.glob("lib/python*/site-packages")
    env = {**os.environ, "PYTHONPATH": str(site_packages)}
    found = _run(Path(sys.executable), f"""
import json
from odoo.modules.module import get_manifest, get_module_path
print(json.dumps({{a: [get_module_path(a), get_manifest(a).get("version")] for a in {ADDONS!r}}}))
""", env)
    for addon in ADDONS:
        path, version = found[addon]
        assert path and Path(path).is_relative_to(venv), f"Odoo found {addon} at {path}"
        manifest = eval((REPO_ROOT / addon / "__manifest__.py").read_text(encoding="utf-8"), {})  # noqa: S307
        assert version.endswith(manifest["version"])
