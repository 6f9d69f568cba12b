"""docker/run_tests.sh, inside-the-image mode, with a stand-in for Odoo's test command.

The stand-in records its arguments, creates the test database as Odoo would,
and exits with the code the test asks for: the script must pass the addons
and tags, hand back Odoo's exit code, and drop the database either way.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from harness.docker_image import DOCKER_DIR, addon_dirs, environ_without_libpq

FAKE_ODOO = textwrap.dedent("""
    import os, sys, psycopg2
    args = sys.argv[2:]
    with open(sys.argv[1], "w") as log:
        log.write("\\n".join(args))
    db = args[args.index("-d") + 1]
    conn = psycopg2.connect(dbname="postgres"); conn.autocommit = True
    conn.cursor().execute(f'CREATE DATABASE "{db}"')
    sys.exit(int(os.environ["FAKE_EXIT"]))
""")


def run_tests(cluster, tmp_path: Path, exit_code: int, *modules: str, **extra: str):
    fake = tmp_path / "fake_odoo.py"
    fake.write_text(FAKE_ODOO)
    calls = tmp_path / "args.txt"
    env = {
        **environ_without_libpq(), "QUEUE_JOB_IMAGE": "1", "FAKE_EXIT": str(exit_code),
        "DB_HOST": cluster.host, "DB_PORT": str(cluster.port), "DB_USER": cluster.user,
        "DB_PASSWORD": cluster.password, "ODOO_BIN": f"{sys.executable} {fake} {calls}", "PYTHON": sys.executable,
        "QUEUE_JOB_ADDONS_DIR": str(DOCKER_DIR.parent), "TEST_DB_NAME": "qj_run_tests", **extra,
    }
    result = subprocess.run(["bash", str(DOCKER_DIR / "run_tests.sh"), *modules], env=env,
                            capture_output=True, text=True, timeout=120)
    return result, calls.read_text().splitlines() if calls.exists() else []


def option(args: list[str], name: str) -> str:
    return args[args.index(name) + 1]


@pytest.mark.parametrize("exit_code", [0, 1])
def test_every_addon_is_tested_and_the_exit_code_is_odoo_s(cluster, tmp_path, exit_code):
    result, args = run_tests(cluster, tmp_path, exit_code)
    assert result.returncode == exit_code, result.stderr
    assert option(args, "-c") == "/etc/odoo/odoo.conf"
    assert option(args, "-i") == ",".join(addon_dirs())
    assert option(args, "--test-tags") == ",".join(f"/{a}" for a in addon_dirs())
    assert "--test-enable" in args and "--stop-after-init" in args and "--workers=0" in args
    assert not cluster.database_exists("qj_run_tests"), "the test database is dropped"


def test_some_addons_and_tags_can_be_chosen(cluster, tmp_path):
    result, args = run_tests(cluster, tmp_path, 0, "queue_job", TEST_TAGS="/queue_job:TestJobs")
    assert result.returncode == 0, result.stderr
    assert option(args, "-i") == "queue_job"
    assert option(args, "--test-tags") == "/queue_job:TestJobs"
    assert not cluster.database_exists("qj_run_tests")
