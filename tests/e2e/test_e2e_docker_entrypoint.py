"""The Docker image's start, run on this machine: docker/entrypoint.sh, docker/odoo.conf
and the environment docker/compose.yaml gives the odoo service.

Only what cannot be the same here differs from the container: the database
address (the e2e throwaway cluster), free ports on 127.0.0.1, and the image's
paths (Odoo's command, the addons, the data dir), through the environment
variables the entrypoint reads for them. The first start creates the
database with every addon of the repository, as in the image; then jobs are
enqueued over HTTP as an administrator trying the queue would, and the
runner is seen following the channels given in the environment. The health
check is the command of the compose file.
"""

from __future__ import annotations

import http.cookiejar
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlencode

import pytest
from harness.docker_image import (
    DOCKER_DIR,
    addon_dirs,
    compose_environment,
    environ_without_libpq,
    healthcheck_command,
)
from harness.odoo_setup import REPO_ROOT, default_addons_path, odoo_bin_cmd
from harness.procs import free_port

from .helpers import wait_for

pytestmark = pytest.mark.odoo

DB = "qj_docker"
# Differs from docker/odoo.conf's root:2: the environment must win.
CHANNELS = "root:3,root.docker:1:sequential"
FIRST_START_TIMEOUT = 420  # creating the database installs Odoo's base and the addons


class Node:
    """One Odoo node started by the image's entrypoint, in a process group of its own."""

    def __init__(self, cluster, workdir: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = workdir / "node.log"
        addons = [p for p in default_addons_path() if Path(p) != REPO_ROOT / "tests" / "addons"]
        self.env = {
            **environ_without_libpq(),
            **compose_environment("odoo"),
            # The compose network's database is the throwaway cluster here.
            "DB_HOST": cluster.host,
            "DB_PORT": str(cluster.port),
            "DB_USER": cluster.user,
            "DB_PASSWORD": cluster.password,
            "DB_NAME": DB,
            "ODOO_QUEUE_JOB_CHANNELS": CHANNELS,
            "ODOO_PUBLIC_URL": self.url,
            # The image's paths, as this machine has them.
            "ODOO_RC": str(DOCKER_DIR / "odoo.conf"),
            "ODOO_BIN": shlex.join(odoo_bin_cmd()),
            "PYTHON": sys.executable,
            "QUEUE_JOB_ADDONS_DIR": str(REPO_ROOT),
            "ODOO_ADDONS_PATH": ",".join(addons),
            "ODOO_DATA_DIR": str(workdir / "data"),
            # Free ports on loopback rather than the container's 8069/8072 on every interface.
            "ODOO_HTTP_PORT": str(self.port),
            "ODOO_GEVENT_PORT": str(free_port(exclude=[self.port])),
            "ODOO_HTTP_INTERFACE": "127.0.0.1",
            "TZ": "UTC",
            "PYTHONUNBUFFERED": "1",
        }
        self._log = open(self.log_path, "w")
        # The image's CMD is ["odoo"].
        self.process = subprocess.Popen(
            ["bash", str(DOCKER_DIR / "entrypoint.sh"), "odoo"], env=self.env, stdout=self._log,
            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
        )
        self.cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.ProxyHandler({}), urllib.request.HTTPCookieProcessor(self.cookies)
        )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def describe(self) -> str:
        return f"--- {self.log_path} (last 4000 chars) ---\n{self.log()[-4000:]}"

    def wait_log(self, pattern: str, timeout: float) -> re.Match[str]:
        def found():
            assert self.process.poll() is None, f"the entrypoint exited ({self.process.returncode})\n{self.describe()}"
            return re.search(pattern, self.log())

        return wait_for(found, timeout, f"{pattern!r} in the node's log", interval=0.5, describe=self.describe)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=30)
        try:
            os.killpg(self.process.pid, signal.SIGKILL)  # the banner's waiter, if still there
        except ProcessLookupError:
            pass
        self._log.close()

    # ------------------------------------------------------------- HTTP
    def login(self) -> None:
        payload = {"jsonrpc": "2.0", "params": {"db": DB, "login": "admin", "password": "admin"}}
        request = urllib.request.Request(f"{self.url}/web/session/authenticate", json.dumps(payload).encode(),
                                         {"Content-Type": "application/json"})
        with self.opener.open(request, timeout=60) as response:
            body = json.loads(response.read())
        assert body.get("result", {}).get("uid"), body

    def create_test_job(self, **params) -> str:
        with self.opener.open(f"{self.url}/queue_job/create_test_job?{urlencode(params)}", timeout=60) as response:
            text = response.read().decode()
        match = re.fullmatch(r"job uuid: ([0-9a-f-]{36})", text.strip())
        assert match, text
        return match.group(1)

    def call(self, model: str, method: str, *args):
        payload = {"jsonrpc": "2.0", "params": {"model": model, "method": method, "args": list(args), "kwargs": {}}}
        request = urllib.request.Request(f"{self.url}/web/dataset/call_kw", json.dumps(payload).encode(),
                                         {"Content-Type": "application/json"})
        with self.opener.open(request, timeout=60) as response:
            body = json.loads(response.read())
        assert "error" not in body, body["error"]
        return body["result"]


@pytest.fixture(scope="module")
def node(cluster, tmp_path_factory):
    started = Node(cluster, tmp_path_factory.mktemp("docker-node"))
    try:
        started.wait_log(r"Odoo is up: ", FIRST_START_TIMEOUT)
        started.wait_log(re.escape(f"queue job runner ready for db {DB}"), 60)
        started.login()
        yield started
    finally:
        started.stop()


@pytest.fixture(scope="module")
def db(cluster, node):
    conn = cluster.connect(DB, autocommit=True)
    yield conn
    conn.close()


def job_states(db, uuids) -> dict[str, str]:
    with db.cursor() as cr:
        cr.execute("SELECT uuid, state FROM queue_job WHERE uuid = ANY(%s)", (list(uuids),))
        return dict(cr.fetchall())


def test_first_start_creates_the_database_and_prints_url_and_login(node, db):
    log = node.log()
    assert f"creating database {DB} with {', '.join(m for m in addon_dirs() if m != 'queue_job_demo')}" in log
    assert f"Odoo is up: {node.url}/web/login?db={DB}" in log
    assert "Login: admin / admin" in log
    with db.cursor() as cr:
        cr.execute("SELECT name FROM ir_module_module WHERE state = 'installed' AND name LIKE 'queue_job%%'")
        installed = sorted(row[0] for row in cr.fetchall())
    assert installed == [m for m in addon_dirs() if m != "queue_job_demo"]
    # Workers from docker/odoo.conf (the prefork server, so the runner is a child of the master).
    workers = re.search(r"^workers\s*=\s*(\d+)", (DOCKER_DIR / "odoo.conf").read_text(), re.M).group(1)
    assert int(workers) >= 2
    assert len(re.findall(r"Worker WorkerHTTP \(\d+\) alive", log)) >= int(workers)


def test_runner_follows_the_channels_of_the_environment(node):
    assert f"runner sends jobs to 127.0.0.1:{node.port}, channels {CHANNELS}" in node.log()
    assert "queue job runner starting, channels: root:3, root.docker:1:sequential" in node.log()


def test_jobs_run(node, db):
    uuids = [node.create_test_job(channel="root", description=f"docker {n}") for n in range(4)]
    wait_for(lambda: set(job_states(db, uuids).values()) == {"done"}, 90, "4 test jobs done",
             describe=lambda: f"{job_states(db, uuids)}\n{node.describe()}")


def test_the_sequential_channel_of_the_environment_holds_after_a_failure(node, db):
    failing = node.create_test_job(channel="root.docker", failure_rate=1, description="fails")
    wait_for(lambda: job_states(db, [failing])[failing] == "failed", 90, "the failing job to fail",
             describe=lambda: f"{job_states(db, [failing])}\n{node.describe()}")
    held = node.create_test_job(channel="root.docker", description="held")
    other = node.create_test_job(channel="root", description="elsewhere")
    wait_for(lambda: job_states(db, [other])[other] == "done", 90, "a job of root to run",
             describe=lambda: f"{job_states(db, [other, held])}\n{node.describe()}")
    # root.docker is sequential (from ODOO_QUEUE_JOB_CHANNELS only): its next
    # job waits behind the failed one, while root went on.
    assert job_states(db, [held])[held] == "pending"
    (failed_id,) = node.call("queue.job", "search", [("uuid", "=", failing)])
    node.call("queue.job", "button_cancelled", [failed_id])
    wait_for(lambda: job_states(db, [held])[held] == "done", 90, "the held job to run once the failure is cancelled",
             describe=lambda: f"{job_states(db, [held])}\n{node.describe()}")


def test_the_compose_health_check_answers(node):
    command = healthcheck_command("odoo")
    # Inside the container the check runs with the container's environment.
    env = {**environ_without_libpq(), "DB_NAME": DB, "ODOO_HTTP_PORT": str(node.port)}
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    if "queue_job_monitor" in addon_dirs():
        assert "/queue_job/health?db=" in result.stdout
    else:
        assert "/web/health: 200 (no /queue_job/health here)" in result.stdout

    node.stop()
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and result.stdout.startswith("UNHEALTHY"), result.stdout
