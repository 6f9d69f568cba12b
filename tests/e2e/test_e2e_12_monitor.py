"""queue_job_monitor against a live prefork server with its jobrunner.

A stack of its own (the shared one does not install the monitor): metrics
scraped twice and parsed with prometheus_client's parser, values compared
with the database, counters never going back; health 503 while the runner is
dead and 200 once it is respawned; an alert rule that fires once and
resolves once.
"""

from __future__ import annotations

import secrets
import signal
import time

import pytest
import requests
from harness.odoo_rpc import OdooRpc

from .helpers import own_stack, wait_for

prometheus_parser = pytest.importorskip("prometheus_client.parser")

DB = "qj_monitor_e2e"
TOKEN = secrets.token_hex(16)
MODULES = ("queue_job", "queue_job_probe", "queue_job_monitor")
SERVER_WIDE = ("base", "web", "queue_job", "queue_job_monitor")


@pytest.fixture(scope="module")
def live():
    sections = {"queue_job": {"channels": "root:2,root.probe:1", "heal_interval": 1, "metrics_token": TOKEN}}
    with own_stack(DB, MODULES, name="monitor-e2e", sections=sections, server_wide_modules=SERVER_WIDE) as stack:
        cluster, server = stack
        conn = cluster.connect(DB, autocommit=True)
        yield server, OdooRpc(server.url, DB, "admin", "admin"), conn
        conn.close()


def query(conn, statement, params=None):
    with conn.cursor() as cr:
        cr.execute(statement, params)
        return cr.fetchall()


def scrape(server):
    response = requests.get(f"{server.url}/queue_job/metrics", params={"db": DB},
                            headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)  # fmt: skip
    assert response.status_code == 200, response.text
    samples = {}
    for family in prometheus_parser.text_string_to_metric_families(response.text):
        for sample in family.samples:
            labels = tuple(sorted((k, v) for k, v in sample.labels.items() if k != "db"))
            samples[(sample.name, labels)] = sample.value
    return samples


def total(samples, name, **labels):
    return sum(v for (n, lab), v in samples.items() if n == name and all((k, w) in lab for k, w in labels.items()))


def enqueue(rpc, method, n, args=()):
    probe = rpc.call("queue.job.probe", "create", {"name": f"monitor {method}"})
    return [rpc.call("queue.job.probe", "enqueue_method", [probe], method, list(args)) for _ in range(n)]


def enqueue_failing(server, n):
    """Test jobs that fail for good, through queue_job's own route (as a logged-in admin)."""
    session = requests.Session()
    response = session.post(f"{server.url}/web/session/authenticate", timeout=30, json={
        "jsonrpc": "2.0", "params": {"db": DB, "login": "admin", "password": "admin"}})  # fmt: skip
    assert response.json().get("result"), response.text
    uuids = []
    for _ in range(n):
        response = session.get(f"{server.url}/queue_job/create_test_job", timeout=30,
                               params={"failure_rate": 1, "channel": "root", "max_retries": 1})  # fmt: skip
        assert response.status_code == 200, response.text
        uuids.append(response.text.split(":")[1].strip())
    return uuids


def wait_final(conn, uuids, timeout=120):
    def finished():
        rows = query(conn, "SELECT count(*) FROM queue_job WHERE uuid = ANY(%s) AND state IN ('done', 'failed')",
                     (list(uuids),))  # fmt: skip
        return rows[0][0] == len(uuids)

    wait_for(finished, timeout, f"{len(uuids)} jobs to finish")


def test_metrics_agree_with_the_database_and_never_go_back(live):
    server, rpc, conn = live
    ok = enqueue(rpc, "job_touch", 6)
    failing = enqueue_failing(server, 2)
    wait_final(conn, ok + failing)
    first = scrape(server)
    (done,), = query(conn, "SELECT count(*) FROM queue_job WHERE state = 'done'")
    (failed,), = query(conn, "SELECT count(*) FROM queue_job WHERE state = 'failed'")
    (created,), = query(conn, "SELECT count(*) FROM queue_job")
    assert total(first, "odoo_queue_job_finished_total", outcome="done") == done
    assert total(first, "odoo_queue_job_finished_total", outcome="failed") == failed == 2
    assert total(first, "odoo_queue_job_enqueued_total") == created
    assert total(first, "odoo_queue_job_jobs", state="failed") == failed
    assert total(first, "odoo_queue_job_run_seconds_count") == done
    assert first[("odoo_queue_job_runner_up", ())] == 1
    assert first[("odoo_queue_job_last_dispatch_timestamp_seconds", ())] > time.time() - 600

    # The done jobs are deleted (as the autovacuum does): counters stay.
    query(conn, "DELETE FROM queue_job WHERE state = 'done' RETURNING id")
    more = enqueue(rpc, "job_touch", 3)
    wait_final(conn, more)
    second = scrape(server)
    for key, value in first.items():
        if key[0].endswith(("_total", "_bucket", "_count", "_sum")):
            assert second.get(key, 0) >= value, f"{key} went back from {value} to {second.get(key)}"
    assert total(second, "odoo_queue_job_finished_total", outcome="done") == done + 3


def test_health_follows_the_runner(live):
    server, _rpc, _conn = live
    url = f"{server.url}/queue_job/health"
    assert requests.get(url, params={"db": DB}, timeout=10).status_code == 200
    detail = requests.get(url, params={"db": DB}, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10).json()
    assert detail["runner"]["pid"] in server.worker_pids("RunnerWorker")
    (runner,) = server.worker_pids("RunnerWorker")
    server.kill_worker(runner, signal.SIGKILL)
    statuses = set()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        status = requests.get(url, params={"db": DB}, timeout=10).status_code
        statuses.add(status)
        if 503 in statuses and status == 200:
            break
        time.sleep(0.05)
    assert statuses == {503, 200}, f"health answered {statuses} around the runner's death"


def test_alert_rule_fires_once_and_resolves_once(live):
    server, rpc, conn = live
    rule = rpc.call("queue.job.alert.rule", "create", {
        "name": "e2e failures", "metric": "final_failures", "operator": ">", "threshold": 0,
        "window_minutes": 60, "cooldown_minutes": 0, "channel": "root",
    })  # fmt: skip
    (cron,) = rpc.call("ir.model.data", "check_object_reference", "queue_job_monitor",
                       "queue_job_monitor_cron_minute")[1:]  # fmt: skip
    failing = enqueue_failing(server, 1)
    wait_final(conn, failing)
    for _ in range(2):
        rpc.call("ir.cron", "method_direct_trigger", [cron])
    rpc.call("queue.job.alert.rule", "write", [rule], {"threshold": 1000})
    for _ in range(2):
        rpc.call("ir.cron", "method_direct_trigger", [cron])
    bodies = [m["body"] for m in rpc.call("mail.message", "search_read",
                                          [("model", "=", "queue.job.alert.rule"), ("res_id", "=", rule)], ["body"])]
    assert sum("FIRING" in body for body in bodies) == 1, bodies
    assert sum("RESOLVED" in body for body in bodies) == 1, bodies
