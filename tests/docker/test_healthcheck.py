"""docker/healthcheck.py against a small HTTP server standing in for Odoo."""

from __future__ import annotations

import http.server
import os
import subprocess
import sys
import threading
from collections.abc import Iterator

import pytest
from harness.docker_image import DOCKER_DIR

SCRIPT = DOCKER_DIR / "healthcheck.py"


class FakeOdoo(http.server.BaseHTTPRequestHandler):
    answers: dict[str, int] = {}
    seen: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        self.seen.append(self.path)
        status = self.answers.get(self.path.split("?")[0], 404)
        body = b"ok" if status == 200 else b"nope"
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def fake_odoo() -> Iterator[tuple[int, type[FakeOdoo]]]:
    handler = type("Handler", (FakeOdoo,), {"answers": {}, "seen": []})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], handler
    finally:
        server.shutdown()
        server.server_close()


def run_check(port: int) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ODOO_HTTP_PORT": str(port), "DB_NAME": "shop", "QUEUE_JOB_HEALTH_HOST": "127.0.0.1"}
    return subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True, env=env, timeout=30)


def test_the_queue_endpoint_decides_where_it_exists(fake_odoo):
    port, handler = fake_odoo
    handler.answers.update({"/queue_job/health": 200, "/web/health": 200})
    result = run_check(port)
    assert result.returncode == 0, result.stdout
    assert handler.seen == ["/queue_job/health?db=shop"]


def test_a_queue_without_runner_is_unhealthy_even_if_the_web_answers(fake_odoo):
    port, handler = fake_odoo
    handler.answers.update({"/queue_job/health": 503, "/web/health": 200})
    result = run_check(port)
    assert result.returncode == 1
    assert "UNHEALTHY" in result.stdout and "503" in result.stdout
    assert handler.seen == ["/queue_job/health?db=shop"]


def test_without_the_queue_endpoint_web_health_decides(fake_odoo):
    port, handler = fake_odoo
    handler.answers.update({"/web/health": 200})
    result = run_check(port)
    assert result.returncode == 0
    assert handler.seen == ["/queue_job/health?db=shop", "/web/health"]
    handler.answers["/web/health"] = 500
    assert run_check(port).returncode == 1


def test_nothing_listening_is_unhealthy(fake_odoo):
    port, handler = fake_odoo
    handler.answers.clear()
    result = run_check(1)  # nothing listens on port 1
    assert result.returncode == 1
    assert result.stdout.startswith("UNHEALTHY")


def test_web_only_asks_odoo_alone(fake_odoo):
    port, handler = fake_odoo
    handler.answers.update({"/queue_job/health": 503, "/web/health": 200})
    env = {**os.environ, "ODOO_HTTP_PORT": str(port), "DB_NAME": "shop"}
    result = subprocess.run([sys.executable, str(SCRIPT), "--web-only"], capture_output=True, text=True, env=env,
                            timeout=30)
    assert result.returncode == 0, result.stdout
    assert handler.seen == ["/web/health"]
