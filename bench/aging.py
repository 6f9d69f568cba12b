#!/usr/bin/env python3
"""Fair priorities: how long priority-100 jobs wait while priority-0 jobs arrive faster than
the channel drains, with and without aging.

    python3 bench/aging.py [--quick] [--step 0.1] [--seconds 60]

One throwaway PostgreSQL cluster and Odoo server (workers=2, ``root:2``).
A feeder (``odoo-bin shell``) enqueues, in channel ``root.aging``, priority-0
jobs at ``--rate`` per second and one priority-100 job per second, each
``job_sleep(--job)`` on a probe of its own, for ``--seconds``. The channel
drains about 2 / job seconds per second, fewer than arrive. Then the same
again with ``aging_step`` set on the channel. Printed, for the jobs enqueued
in the first half of each round: the longest wait (start - enqueue; for a
job still waiting at the end, end - enqueue) of each priority, and how many
priority-100 jobs started. QUEUE_JOB_TEST_MODE=quick or --quick: 20 s per
round, aging step 0.05 s (full: 60 s, 0.1 s).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import textwrap
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT / "tests"))

from harness.odoo_oneshot import init_database  # noqa: E402
from harness.odoo_server import OdooServer  # noqa: E402
from harness.odoo_setup import _odoo_env, default_addons_path, odoo_bin_cmd  # noqa: E402
from harness.pgcluster import PgCluster  # noqa: E402

DB = "qj_aging"
CHANNEL = "root.aging"

FEEDER = """
import time
channel = env['queue.job.channel'].search([('complete_name', '=', '{channel}')])
if not channel:
    channel = env['queue.job.channel'].create({{'name': 'aging', 'parent_id': env.ref('queue_job.channel_root').id}})
channel.write({{'aging_step': {step}}})
env.cr.commit()
Probe = env['queue.job.probe']
started = time.monotonic()
low = 0
high_next = started
while time.monotonic() < started + {seconds}:
    now = time.monotonic()
    for _ in range(int((now - started) * {rate}) - low):
        Probe.create({{'name': 'p0'}}).with_delay(priority=0, channel='{channel}').job_sleep({job}, 'p0')
        low += 1
    if now >= high_next:
        Probe.create({{'name': 'p100'}}).with_delay(priority=100, channel='{channel}').job_sleep({job}, 'p100')
        high_next += 1
    env.cr.commit()
    time.sleep(0.05)
print('FED', low, flush=True)
"""

# Jobs enqueued in the first half of the round: a job enqueued later could not
# show a wait longer than what is left of the round.
WAITS = """
SELECT priority, count(*), count(date_started),
       max(EXTRACT(EPOCH FROM COALESCE(date_started, %(end)s) - date_created))
  FROM queue_job WHERE channel = %(channel)s AND date_created >= %(begin)s AND date_created < %(half)s
 GROUP BY priority ORDER BY priority
"""


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    quick = os.environ.get("QUEUE_JOB_TEST_MODE") == "quick"
    parser.add_argument("--quick", action="store_true", default=quick, help="20 s per round")
    parser.add_argument("--seconds", type=float, help="length of a round (default 60, quick 20)")
    parser.add_argument("--step", type=float, help="aging step in seconds (default 0.1, quick 0.05)")
    parser.add_argument("--rate", type=float, default=12.0, help="priority-0 jobs per second (default %(default)s)")
    parser.add_argument("--job", type=float, default=0.2, help="seconds each job works (default %(default)s)")
    return parser.parse_args(argv)


def feed(server: OdooServer, seconds: float, rate: float, job: float, step: float) -> None:
    script = textwrap.dedent(FEEDER.format(channel=CHANNEL, seconds=seconds, rate=rate, job=job, step=step))
    cmd = [*odoo_bin_cmd(), "shell", "-c", str(server.conf_path), "-d", DB, "--no-http",
           "--logfile", str(server.workdir / "aging-feeder.log")]
    proc = subprocess.run(cmd, input=script, capture_output=True, text=True, timeout=seconds + 300,
                          cwd=server.workdir, env=_odoo_env())
    if proc.returncode != 0 or "FED" not in proc.stdout:
        raise RuntimeError(f"feeder failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")


def one_round(cluster: PgCluster, server: OdooServer, args, step: float) -> dict:
    conn = cluster.connect(DB, autocommit=True)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT now() AT TIME ZONE 'UTC'")
            (begin,) = cur.fetchone()
        feed(server, args.seconds, args.rate, args.job, step)
        with conn.cursor() as cur:
            cur.execute("SELECT max(date_created) FROM queue_job WHERE channel = %s", (CHANNEL,))
            (end,) = cur.fetchone()  # the feeder's last enqueue: the end of the round
            cur.execute(WAITS, {"channel": CHANNEL, "begin": begin, "end": end, "half": begin + (end - begin) / 2})
            rows = {priority: (count, started, float(longest)) for priority, count, started, longest in cur.fetchall()}
            # Clear the backlog for the next round; running jobs finish.
            cur.execute("UPDATE queue_job_channel SET paused = true WHERE complete_name = %s", (CHANNEL,))
            cur.execute("DELETE FROM queue_job WHERE channel = %s AND state = 'pending'", (CHANNEL,))
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                cur.execute("SELECT count(*) FROM queue_job WHERE channel = %s AND state IN ('enqueued', 'started')",
                            (CHANNEL,))
                if not cur.fetchone()[0]:
                    break
                time.sleep(0.2)
            cur.execute("UPDATE queue_job_channel SET paused = false WHERE complete_name = %s", (CHANNEL,))
    finally:
        conn.close()
    return rows


def main(argv=None) -> int:
    args = parse_args(argv)
    args.seconds = args.seconds or (20.0 if args.quick else 60.0)
    args.step = args.step or (0.05 if args.quick else 0.1)
    addons = default_addons_path([REPO_ROOT, REPO_ROOT / "tests" / "addons"])
    with PgCluster(fast=True) as cluster:
        result = init_database(cluster, DB, ("queue_job", "queue_job_probe"), addons_path=addons,
                               server_wide_modules=("base", "web", "queue_job"))
        if result.errors:
            print("install failed:", *result.errors, sep="\n", file=sys.stderr)
            return 1
        server = OdooServer(cluster, DB, workers=2, server_wide_modules=("base", "web", "queue_job"),
                            addons_path=addons, sections={"queue_job": {"channels": "root:2"}}, name="aging")
        server.start()
        try:
            server.wait_for_log(re.escape(f"queue job runner ready for db {DB}"), timeout=120)
            results = {}
            for label, step in (("no aging", 0.0), (f"aging {args.step:g} s", args.step)):
                print(f"round: {label} ({args.seconds:g} s)...", file=sys.stderr, flush=True)
                results[label] = one_round(cluster, server, args, step)
        finally:
            server.stop()
    print(f"\nchannel {CHANNEL}, capacity 2, jobs of {args.job:g} s (drains ~{2 / args.job:g}/s at best); "
          f"priority 0 arriving at {args.rate:g}/s, priority 100 at 1/s; {args.seconds:g} s per round\n")
    print("jobs enqueued in the first half of each round:")
    print(f"{'':<16}{'longest wait p0':>18}{'longest wait p100':>20}{'p100 started':>16}")
    for label, rows in results.items():
        low = rows.get(0, (0, 0, 0.0))
        high = rows.get(100, (0, 0, 0.0))
        print(f"{label:<16}{low[2]:>17.1f}s{high[2]:>19.1f}s{f'{high[1]}/{high[0]}':>16}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
