"""Cost of queue_job_monitor on a big queue table (issue 9, section 7).

    python3 bench/monitor_cost.py                 # 1,000,000 done + 100,000 pending jobs
    python3 bench/monitor_cost.py --done 100000 --pending 10000

Installs queue_job and queue_job_monitor in a throwaway cluster, fills the
table server-side (generate_series: done jobs spread over 7 days with their
counters folded, pending jobs half ready, half scheduled), then times, best
and median of --repeat runs:

- one dashboard payload (``queue.job.monitor.dashboard_data``'s statements);
- one metrics scrape (``fold_counters`` when no fold is under way, then ``exposition.render``);
- one minute snapshot (fold + ``channel_figures`` + minute counts);
- the counting triggers' cost on the queue's own writes: one INSERT of
  10,000 jobs and 2,000 single-row UPDATEs (pending -> started -> done),
  with the triggers, without them, and with a row trigger that does
  nothing (the cost of any row trigger), in turns.

Not a test: figures go to stdout, to be copied into bench/README.md.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

from harness.odoo_oneshot import init_database  # noqa: E402
from harness.odoo_setup import default_addons_path  # noqa: E402
from harness.pgcluster import PgCluster  # noqa: E402

FILL = """
INSERT INTO queue_job (uuid, state, channel, channel_method_name, model_name, method_name, name,
                       date_created, date_enqueued, date_started, date_done, exec_time, retry, max_retries, priority)
SELECT md5(g::text || 'd'), 'done', 'root.c' || (g %% 12), '<res.partner>.f' || (g %% 30), 'res.partner', 'write', 'bench',
       t - interval '3 seconds', t - interval '2 seconds', t - interval '1 second', t, 1.0 + (g %% 7), 1, 5, 10
  FROM (SELECT g, (now() AT TIME ZONE 'UTC') - make_interval(secs => g * 604800.0 / %(done)s) AS t
          FROM generate_series(1, %(done)s) AS g) AS s;
INSERT INTO queue_job (uuid, state, channel, channel_method_name, model_name, method_name, name,
                       date_created, eta, retry, max_retries, priority)
SELECT md5(g::text || 'p'), 'pending', 'root.c' || (g %% 12), '<res.partner>.f' || (g %% 30), 'res.partner', 'write',
       'bench', (now() AT TIME ZONE 'UTC') - make_interval(secs => g %% 3600),
       CASE WHEN g %% 2 = 0 THEN (now() AT TIME ZONE 'UTC') + interval '1 hour' END, 0, 5, 10
  FROM generate_series(1, %(pending)s) AS g;
"""


class Cursor:
    """A psycopg2 cursor with the ``dbname`` the monitor's code reads."""

    def __init__(self, conn, dbname):
        self._cr = conn.cursor()
        self.dbname = dbname

    def __getattr__(self, name):
        return getattr(self._cr, name)


def timed(label, func, repeat):
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        func()
        samples.append((time.perf_counter() - started) * 1000)
    print(f"{label:<48} best {min(samples):8.1f} ms   median {statistics.median(samples):8.1f} ms", flush=True)
    return samples


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--done", type=int, default=1_000_000)
    parser.add_argument("--pending", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    import odoo.addons

    odoo.addons.__path__.append(str(ROOT))
    from odoo.addons.queue_job_monitor import exposition, figures, sql

    with PgCluster(fast=True) as cluster:
        db = "monitor_cost"
        result = init_database(cluster, db, ["queue_job_monitor"], addons_path=default_addons_path([ROOT]))
        assert not result.errors, result.errors
        conn = cluster.connect(db, autocommit=True)
        cr = Cursor(conn, db)
        started = time.perf_counter()
        cr.execute(FILL, {"done": args.done, "pending": args.pending})
        # The done rows were inserted as done: give the counters what the
        # triggers would have counted had they run through the states.
        cr.execute("""
            INSERT INTO queue_job_monitor_delta (at, channel, func, kind, run)
            SELECT date_done, channel, channel_method_name, 'done', exec_time FROM queue_job WHERE state = 'done'""")
        figures.fold_counters(cr)
        # As the autovacuum would have done since (the fold deletes what it moves).
        for table in ("queue_job", "queue_job_monitor_delta", "queue_job_monitor_count_minute",
                      "queue_job_monitor_count_hour", "queue_job_monitor_total"):
            cr.execute(f"VACUUM ANALYZE {table}")
        print(f"filled {args.done:,} done + {args.pending:,} pending jobs in {time.perf_counter() - started:.0f} s",
              flush=True)

        def dashboard():
            figures.runner_state(cr, channels=figures.channel_figures(cr))
            figures.function_figures(cr, "7d")
            figures.stuck_started(cr)

        def snapshot():
            figures.fold_counters(cr)
            figures.channel_figures(cr)
            cr.execute(sql.COUNTS_OF_MINUTE, {"minute": figures.now(cr)})
            cr.fetchall()

        timed("dashboard payload (function window 7 d)", dashboard, args.repeat)
        timed("  channel figures", lambda: figures.channel_figures(cr), args.repeat)
        timed("  function figures 1 h", lambda: figures.function_figures(cr, "1h"), args.repeat)
        timed("  function figures 7 d", lambda: figures.function_figures(cr, "7d"), args.repeat)
        timed("  runner state", lambda: figures.runner_state(cr), args.repeat)
        timed("metrics scrape", lambda: (figures.fold_counters(cr, wait=False), exposition.render(cr)), args.repeat)
        timed("minute snapshot (fold + figures)", snapshot, args.repeat)

        # The queue's own writes, run inside PostgreSQL (no client round trips
        # to blur the figure): 10,000 jobs inserted in one statement, then
        # 2,000 single-row UPDATEs as a worker makes them (started, done).
        writes_sql = """
            INSERT INTO queue_job (uuid, state, channel, channel_method_name, model_name, method_name, date_created)
            SELECT md5(random()::text), 'pending', 'root.w', '<res.partner>.w', 'res.partner', 'write',
                   now() AT TIME ZONE 'UTC' FROM generate_series(1, 10000);
            DO $$
            DECLARE i int;
            BEGIN
              FOR i IN SELECT id FROM queue_job WHERE channel = 'root.w' ORDER BY id LIMIT 1000 LOOP
                UPDATE queue_job SET state = 'started', date_started = now() AT TIME ZONE 'UTC' WHERE id = i;
                UPDATE queue_job SET state = 'done', date_done = now() AT TIME ZONE 'UTC', exec_time = 0.01
                 WHERE id = i;
              END LOOP;
            END $$;
        """

        def writes():
            cr.execute(writes_sql)
            cr.execute("DELETE FROM queue_job WHERE channel = 'root.w'")

        # "empty": the same row trigger (same WHEN clause) calling a function
        # that does nothing: what calling any row trigger on queue_job costs.
        empty_trigger = (
            "CREATE OR REPLACE FUNCTION queue_job_monitor_count_nothing() RETURNS trigger AS $$"
            " BEGIN RETURN NULL; END; $$ LANGUAGE plpgsql;"
            + sql.CREATE_COUNT_TRIGGERS.replace(
                "EXECUTE FUNCTION queue_job_monitor_count_update();", "EXECUTE FUNCTION queue_job_monitor_count_nothing();"
            )
        )
        assert "EXECUTE FUNCTION queue_job_monitor_count_nothing();" in empty_trigger
        setups = {"on": sql.CREATE_COUNT_TRIGGERS, "off": sql.DROP_COUNT_TRIGGERS, "empty": empty_trigger}
        samples = {state: [] for state in setups}
        for _round in range(args.repeat):  # alternate, so that load from elsewhere hits all alike
            for state, setup in setups.items():
                cr.execute(sql.DROP_COUNT_TRIGGERS)
                cr.execute(setup)
                samples[state] += timed(f"10k-job INSERT + 2,000 UPDATEs, counting {state}", writes, 1)
        cr.execute(sql.DROP_COUNT_TRIGGERS)
        cr.execute(sql.CREATE_COUNT_TRIGGERS)
        cr.execute("DROP FUNCTION IF EXISTS queue_job_monitor_count_nothing()")
        on, off, empty = (statistics.median(samples[state]) for state in ("on", "off", "empty"))
        print(f"counting triggers: {on - off:+.0f} ms over the 10,000-row INSERT and 2,000 UPDATEs "
              f"({100 * (on - off) / off:+.1f} %, medians; {(on - off) / 1000:.3f} ms per job), "
              f"of which an empty row trigger: {empty - off:+.0f} ms")
        conn.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
