"""A stand-in for a slow AI/LLM HTTP API, for the demo and its tests.

It listens on 127.0.0.1 only::

    python3 queue_job_demo/stub_server.py --port 8765 --delay 3

then set the demo's endpoint to ``http://127.0.0.1:8765/v1/complete``.
``POST /v1/complete`` with ``{"prompt": "..."}`` answers
``{"completion": "..."}`` after ``delay`` seconds. On demand it misbehaves:

* a query string on the endpoint URL: ``?status=429`` (or 500, 503...),
  ``?delay=10`` (seconds), ``?retry_after=5`` (with a 429);
* from Python, ``server.plan(429, 500)``: the next answers, in order,
  before it goes back to answering normally.
"""

from __future__ import annotations

import argparse
import json
import logging
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

LOOPBACK = "127.0.0.1"
_logger = logging.getLogger(__name__)


class _Handler(BaseHTTPRequestHandler):
    server: StubServer

    def do_GET(self):  # noqa: N802 (http.server's naming)
        if urlsplit(self.path).path == "/health":
            return self._reply(200, {"status": "ok"})
        return self._reply(404, {"error": "not found"})

    def do_POST(self):  # noqa: N802
        url = urlsplit(self.path)
        if url.path != "/v1/complete":
            return self._reply(404, {"error": "not found"})
        query = {key: values[-1] for key, values in parse_qs(url.query).items()}
        length = int(self.headers.get("Content-Length") or 0)
        try:
            prompt = json.loads(self.rfile.read(length) or b"{}").get("prompt", "")
        except (ValueError, AttributeError):
            return self._reply(400, {"error": "the body must be a JSON object with a prompt"})
        self.server.requests.append(prompt)
        status = self.server.next_planned_status() or int(query.get("status", 200))
        time.sleep(float(query.get("delay", self.server.delay)))
        if status == 429:
            return self._reply(429, {"error": "rate limited"}, {"Retry-After": query.get("retry_after", "1")})
        if status != 200:
            return self._reply(status, {"error": f"the stub answers {status} on demand"})
        words = len(str(prompt).split())
        return self._reply(200, {"completion": f"A thoughtful answer to a prompt of {words} words.", "model": "stub-1"})

    def _reply(self, status: int, body: dict, headers: dict | None = None):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format, *args):  # noqa: A002 (http.server's signature)
        pass  # the demo's tests read the requests, not a log


class StubServer(ThreadingHTTPServer):
    """``with StubServer() as stub: stub.url`` serves in a thread until the block ends."""

    daemon_threads = True

    def __init__(self, port: int = 0, delay: float = 0.0, host: str = LOOPBACK):
        if host != LOOPBACK:
            raise ValueError(f"the stub server listens on {LOOPBACK} only, not {host!r}")
        super().__init__((LOOPBACK, port), _Handler)
        self.delay = delay
        self.requests: list[str] = []
        self._plan: deque[int] = deque()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.server_address[1]}/v1/complete"

    def plan(self, *statuses: int) -> None:
        """The status codes of the next answers, before normal ones again."""
        with self._lock:
            self._plan.extend(statuses)

    def next_planned_status(self) -> int | None:
        with self._lock:
            return self._plan.popleft() if self._plan else None

    def __enter__(self) -> StubServer:
        self._thread = threading.Thread(target=self.serve_forever, name="queue_job_demo-stub", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.shutdown()
        self.server_close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Stub AI endpoint for queue_job_demo (127.0.0.1 only).")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--delay", type=float, default=3.0, help="seconds before each answer")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    server = StubServer(args.port, args.delay)
    _logger.info("Stub AI endpoint on %s (Ctrl-C to stop)", server.url)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
