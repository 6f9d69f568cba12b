#!/usr/bin/env python3
"""Health check of an Odoo node of the queue_job image (docker/compose.yaml runs it).

Asks ``/queue_job/health?db=<DB_NAME>`` first (queue_job_monitor's endpoint:
200 when the database answers and a runner leads it, 503 otherwise). Where
that endpoint does not exist (404: the monitor is not installed), Odoo's own
``/web/health`` decides. Exit code 0 when healthy, 1 otherwise, with one line
saying which URL answered what.

Environment: ODOO_HTTP_PORT (default 8069), DB_NAME (default odoo),
QUEUE_JOB_HEALTH_HOST (default 127.0.0.1). ``--wait S`` retries for up to S
seconds; ``--web-only`` asks only ``/web/health`` (the entrypoint uses both
to print the URL once Odoo answers).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import urllib.error
import urllib.request
from urllib.parse import urlencode

# Requests to the node itself never go through a proxy from the environment.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def get(url: str, timeout: float) -> tuple[int, str]:
    """(HTTP status, start of the body); status 0 when nothing answered."""
    try:
        with _OPENER.open(url, timeout=timeout) as response:
            return response.status, response.read(200).decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(200).decode("utf-8", "replace")
    except (OSError, ValueError) as exc:
        return 0, str(exc)


def check(base_url: str, db: str, timeout: float = 5.0, web_only: bool = False) -> tuple[bool, str]:
    """(healthy, what was seen)."""
    if not web_only:
        queue_url = f"{base_url}/queue_job/health?{urlencode({'db': db})}"
        status, body = get(queue_url, timeout)
        if status != 404:
            return status == 200, f"{queue_url}: {status or body} {body.strip()[:80] if status else ''}".rstrip()
    web_url = f"{base_url}/web/health"
    status, body = get(web_url, timeout)
    return status == 200, f"{web_url}: {status or body}" + ("" if web_only else " (no /queue_job/health here)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="healthcheck.py", description=__doc__.splitlines()[0])
    parser.add_argument("--wait", type=float, default=0.0, help="seconds to keep trying before giving up")
    parser.add_argument("--quiet", action="store_true", help="no output when healthy")
    parser.add_argument("--web-only", action="store_true", help="only Odoo's /web/health (is Odoo up at all)")
    args = parser.parse_args(argv)
    host = os.environ.get("QUEUE_JOB_HEALTH_HOST") or "127.0.0.1"
    port = os.environ.get("ODOO_HTTP_PORT") or "8069"
    db = os.environ.get("DB_NAME") or "odoo"
    deadline = time.monotonic() + args.wait
    while True:
        healthy, seen = check(f"http://{host}:{port}", db, web_only=args.web_only)
        if healthy or time.monotonic() >= deadline:
            break
        time.sleep(1)
    if not (healthy and args.quiet):
        print(("healthy: " if healthy else "UNHEALTHY: ") + seen, flush=True)
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main())
