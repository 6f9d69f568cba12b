"""Every SQL statement the monitor runs, named for what it computes.

Times are UTC without time zone, like Odoo's Datetime. Durations are seconds.
Statements take psycopg2-style named parameters.

Counting. Live figures (depth, oldest ready job, percentiles) are read from
``queue_job`` itself. Totals that must never go back (enqueued, done, failed
for good, retried, cancelled, and the run/wait histograms) are counted where
the state changes, into ``queue_job_monitor_delta``, an append-only table
that no two transactions ever update, so workers' commits never wait on a
counter row. Inserts are counted per statement (one aggregated row per
channel and function: a bulk enqueue writes a handful of rows). State changes
are counted per row, behind a WHEN clause that PostgreSQL checks without
calling the function: the queue changes one job per statement (start, done,
retry), where a statement trigger with transition tables cost about four
times as much (measured: 0.10-0.13 ms against 0.025 ms per UPDATE). The
function runs once per try, when the try ends, and appends one row: the
outcome, the run time of a job done, the wait (ready to started) of the try;
starting a job costs nothing, and the histogram buckets are computed when the
rows are read, set-based (``_counted``). Measured inside PostgreSQL
(bench/monitor_cost.py), the trigger adds about 0.04 ms to a job, of which
about 0.02 ms is the cost of calling any row trigger at all.
The minute cron and each metrics scrape move those rows (DELETE ...
RETURNING, which only sees committed ones) into per-minute counts and into
running totals, one fold at a time. Readers add the rows not yet moved.
"""

from __future__ import annotations

from odoo.addons.queue_job.engine.sql import NOW_UTC, RUNNER_LOCK_NS

# Upper bounds (seconds) of the run-time and wait-time histograms. A value
# falls in the first bucket whose bound is >= the value (Prometheus "le");
# bucket len(HISTOGRAM_BOUNDS) is +Inf.
HISTOGRAM_BOUNDS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0)

# Advisory locks of the monitor: (MONITOR_LOCK_NS, 0) serialises the folds.
MONITOR_LOCK_NS = 0x5159_4A4D  # "QYJM"

# Kinds counted by the triggers.
COUNTER_KINDS = ("enqueued", "done", "failed", "retried", "cancelled")
HISTOGRAM_KINDS = ("run", "wait")


def _le_bucket(expression: str) -> str:
    """SQL giving the index of the first bound >= ``expression`` (len(bounds) for +Inf).

    width_bucket counts the bounds <= its operand; negating both sides counts
    the bounds >= the value, which gives the "le" bucket.
    """
    negated = ", ".join(str(-b) for b in reversed(HISTOGRAM_BOUNDS))
    return f"({len(HISTOGRAM_BOUNDS)} - width_bucket(-({expression}), ARRAY[{negated}]::float8[]))"


# Of the row a trigger sees (GREATEST ignores NULLs: a job finished by hand counts 0 s).
_RUN_SECONDS = "GREATEST(COALESCE(NEW.exec_time, EXTRACT(EPOCH FROM NEW.date_done - NEW.date_started)), 0)"
_WAIT_SECONDS = "GREATEST(EXTRACT(EPOCH FROM OLD.date_started - GREATEST(OLD.date_created, OLD.eta)), 0)"


def _counted(deltas: str) -> str:
    """The rows of ``deltas`` (the delta table or a CTE of its rows) as counts.

    A delta is one event: ``n`` of ``kind``, with the run time of a job done
    and the wait of a try that ended. Read, it is one count of its kind plus
    one histogram count each for its run and its wait, in their buckets (the
    trigger writes one row and computes no bucket: set-based, here, is cheaper).
    """
    return f"""
SELECT d.at, COALESCE(d.channel, 'root') AS channel, COALESCE(d.func, '') AS func,
       k.kind, k.bucket, d.n, k.seconds
  FROM {deltas} AS d
 CROSS JOIN LATERAL (VALUES (d.kind, 0, 0.0::float8),
                            ('run', {_le_bucket("d.run")}, d.run),
                            ('wait', {_le_bucket("d.wait")}, d.wait)) AS k(kind, bucket, seconds)
 WHERE k.seconds IS NOT NULL"""


# -- schema (run by the monitor's init(), idempotent) ----------------------

CREATE_TABLES = """
CREATE TABLE IF NOT EXISTS queue_job_monitor_delta (
    at timestamp NOT NULL DEFAULT (now() AT TIME ZONE 'UTC'),
    channel varchar, func varchar, kind varchar NOT NULL, n bigint NOT NULL DEFAULT 1,
    run float8, wait float8
);
CREATE TABLE IF NOT EXISTS queue_job_monitor_count_minute (
    minute timestamp NOT NULL, channel varchar NOT NULL, func varchar NOT NULL, kind varchar NOT NULL,
    bucket smallint NOT NULL, n bigint NOT NULL, seconds float8 NOT NULL,
    PRIMARY KEY (minute, channel, func, kind, bucket)
);
CREATE TABLE IF NOT EXISTS queue_job_monitor_count_hour (
    hour timestamp NOT NULL, channel varchar NOT NULL, func varchar NOT NULL, kind varchar NOT NULL,
    bucket smallint NOT NULL, n bigint NOT NULL, seconds float8 NOT NULL,
    PRIMARY KEY (hour, channel, func, kind, bucket)
);
CREATE TABLE IF NOT EXISTS queue_job_monitor_total (
    channel varchar NOT NULL, func varchar NOT NULL, kind varchar NOT NULL,
    bucket smallint NOT NULL, n bigint NOT NULL, seconds float8 NOT NULL,
    PRIMARY KEY (channel, func, kind, bucket)
);
"""

# The existing indexes serve per-channel scans of done jobs (channel first);
# windows over all channels need date_done first, or each dashboard load
# would walk every done job of the table.
CREATE_INDEXES = """
CREATE INDEX IF NOT EXISTS queue_job_monitor_done_idx
    ON queue_job (date_done) WHERE state = 'done';
"""

CREATE_COUNT_TRIGGERS = f"""
CREATE OR REPLACE FUNCTION queue_job_monitor_count_insert() RETURNS trigger AS $$
BEGIN
    INSERT INTO queue_job_monitor_delta (channel, func, kind, n)
    SELECT channel, COALESCE(channel_method_name, ''), 'enqueued', count(*)
      FROM new_rows GROUP BY 1, 2;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION queue_job_monitor_count_update() RETURNS trigger AS $$
BEGIN
    -- A try that ends has its wait counted now, from its own start and eta
    -- (a retry clears date_started and moves the eta).
    INSERT INTO queue_job_monitor_delta (channel, func, kind, run, wait)
    VALUES (NEW.channel, COALESCE(NEW.channel_method_name, ''),
            CASE WHEN NEW.state = 'pending' THEN 'retried' ELSE NEW.state END,
            CASE WHEN NEW.state = 'done' THEN {_RUN_SECONDS} END,
            CASE WHEN OLD.state = 'started' THEN {_WAIT_SECONDS} END);
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

DROP TRIGGER IF EXISTS queue_job_monitor_count_insert ON queue_job;
DROP TRIGGER IF EXISTS queue_job_monitor_count_update ON queue_job;
CREATE TRIGGER queue_job_monitor_count_insert AFTER INSERT ON queue_job
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION queue_job_monitor_count_insert();
CREATE TRIGGER queue_job_monitor_count_update AFTER UPDATE OF state ON queue_job
    FOR EACH ROW
    WHEN (OLD.state IS DISTINCT FROM NEW.state
          AND (NEW.state IN ('done', 'failed', 'cancelled') OR (OLD.state = 'started' AND NEW.state = 'pending')))
    EXECUTE FUNCTION queue_job_monitor_count_update();
"""

DROP_COUNT_TRIGGERS = """
DROP TRIGGER IF EXISTS queue_job_monitor_count_insert ON queue_job;
DROP TRIGGER IF EXISTS queue_job_monitor_count_update ON queue_job;
DROP FUNCTION IF EXISTS queue_job_monitor_count_insert();
DROP FUNCTION IF EXISTS queue_job_monitor_count_update();
"""

# -- counters --------------------------------------------------------------

# One fold at a time: two folds upserting the same counts in different
# orders could deadlock. The cron waits for it; a scrape skips the fold.
FOLD_LOCK = f"SELECT pg_advisory_xact_lock({MONITOR_LOCK_NS}, 0)"
TRY_FOLD_LOCK = f"SELECT pg_try_advisory_xact_lock({MONITOR_LOCK_NS}, 0)"


def _add_to_period_counts(period: str) -> str:
    """INSERT the counts of the CTE ``moved`` into ``queue_job_monitor_count_<period>``, by ``period``."""
    return f"""
    INSERT INTO queue_job_monitor_count_{period} AS c ({period}, channel, func, kind, bucket, n, seconds)
    SELECT date_trunc('{period}', at), channel, func, kind, bucket, sum(n), sum(seconds)
      FROM moved GROUP BY 1, 2, 3, 4, 5
    ON CONFLICT ({period}, channel, func, kind, bucket)
    DO UPDATE SET n = c.n + EXCLUDED.n, seconds = c.seconds + EXCLUDED.seconds"""


# The counts of a CTE ``moved`` added to the per-minute counts, the hourly
# counts and the running totals (the tail of a WITH statement).
_ADD_TO_COUNTS = f"""), per_minute AS ({_add_to_period_counts("minute")}
), per_hour AS ({_add_to_period_counts("hour")}
)
INSERT INTO queue_job_monitor_total AS t (channel, func, kind, bucket, n, seconds)
SELECT channel, func, kind, bucket, sum(n), sum(seconds)
  FROM moved GROUP BY 1, 2, 3, 4
ON CONFLICT (channel, func, kind, bucket)
DO UPDATE SET n = t.n + EXCLUDED.n, seconds = t.seconds + EXCLUDED.seconds
"""

# Moves the committed deltas into per-minute counts and running totals, in
# one statement: a delta is either still in the delta table or in both.
FOLD_DELTAS = f"""
WITH deleted AS (
    DELETE FROM queue_job_monitor_delta RETURNING *
), moved AS ({_counted("deleted")}
{_ADD_TO_COUNTS}"""

# A delta table of the first shape (one row per kind and bucket, up to
# 18.0.1.0.0): its rows are added to the counts as they are, then it is
# dropped, for CREATE_TABLES to make it again in today's shape.
UPGRADE_DELTA_SHAPE = f"""
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM information_schema.columns
                WHERE table_schema = current_schema() AND table_name = 'queue_job_monitor_delta'
                  AND column_name = 'bucket') THEN
        WITH moved AS (
            SELECT at, COALESCE(channel, 'root') AS channel, COALESCE(func, '') AS func, kind, bucket, n, seconds
              FROM queue_job_monitor_delta
        {_ADD_TO_COUNTS};
        DROP TABLE queue_job_monitor_delta;
    END IF;
END $$;
"""

# Totals since the monitor was installed, per channel, function, kind and
# histogram bucket: the folded totals plus the deltas not yet folded.
COUNTER_TOTALS = f"""
SELECT channel, func, kind, bucket, sum(n)::bigint, sum(seconds)
  FROM (SELECT channel, func, kind, bucket, n, seconds FROM queue_job_monitor_total
        UNION ALL
        SELECT channel, func, kind, bucket, n, seconds FROM ({_counted("queue_job_monitor_delta")}) AS delta) AS c
 GROUP BY 1, 2, 3, 4
"""

# Counts of each kind since %(since)s per channel and function: whole hours
# from the hourly counts, the minutes before the first whole hour from the
# minute counts, and the deltas not yet folded. A 7-day window reads
# 168 hours, not 10,080 minutes.
_COUNTS_SINCE = f"""
SELECT channel, func, kind, bucket, n, seconds FROM queue_job_monitor_count_hour
 WHERE hour >= date_trunc('hour', %(since)s::timestamp) + interval '1 hour'
UNION ALL
SELECT channel, func, kind, bucket, n, seconds FROM queue_job_monitor_count_minute
 WHERE minute >= date_trunc('minute', %(since)s::timestamp)
   AND minute < date_trunc('hour', %(since)s::timestamp) + interval '1 hour'
UNION ALL
SELECT channel, func, kind, bucket, n, seconds
  FROM ({_counted("queue_job_monitor_delta")}) AS delta WHERE at >= %(since)s
"""

# Every count since %(since)s, per channel, function, kind and bucket.
COUNTS_SINCE = f"""
SELECT channel, func, kind, bucket, sum(n)::bigint, sum(seconds)
  FROM ({_COUNTS_SINCE}) AS c
 GROUP BY 1, 2, 3, 4
"""

# Counts of one finished minute (folded), per channel, for the snapshots.
COUNTS_OF_MINUTE = """
SELECT channel, kind, bucket, sum(n)::bigint FROM queue_job_monitor_count_minute
 WHERE minute = %(minute)s GROUP BY 1, 2, 3
"""

OUTCOMES_SINCE_BY_CHANNEL = f"""
SELECT channel,
       sum(n) FILTER (WHERE kind = 'done')::bigint AS done,
       sum(n) FILTER (WHERE kind = 'failed')::bigint AS failed,
       sum(n) FILTER (WHERE kind = 'retried')::bigint AS retried
  FROM ({_COUNTS_SINCE}) AS c
 WHERE kind IN ('done', 'failed', 'retried')
 GROUP BY channel
"""

PURGE_MINUTE_COUNTS = """
DELETE FROM queue_job_monitor_count_minute WHERE minute < %(before)s;
DELETE FROM queue_job_monitor_count_hour WHERE hour < %(before)s;
"""

# -- live figures per channel ------------------------------------------------

_READY = f"state = 'pending' AND (eta IS NULL OR eta <= {NOW_UTC})"

# Depth of each channel: one pass over the jobs that are not finished (or
# failed), which the state index serves; done jobs are never read.
CHANNEL_DEPTH = f"""
SELECT channel,
       count(*) FILTER (WHERE state = 'enqueued') AS enqueued,
       count(*) FILTER (WHERE state = 'started') AS started,
       count(*) FILTER (WHERE {_READY}) AS ready,
       count(*) FILTER (WHERE state = 'pending' AND eta > {NOW_UTC}) AS scheduled,
       count(*) FILTER (WHERE state = 'wait_dependencies') AS waiting,
       count(*) FILTER (WHERE state = 'failed') AS failed,
       EXTRACT(EPOCH FROM {NOW_UTC} - min(GREATEST(date_created, eta)) FILTER (WHERE {_READY}))
           AS oldest_ready_age
  FROM queue_job
 WHERE state IN ('wait_dependencies', 'pending', 'enqueued', 'started', 'failed')
 GROUP BY channel
"""

# Throughput, wait and run time of each channel over the last hour, from the
# jobs done in that hour (the monitor's date_done index): done per 5 minutes
# and per hour, percentiles of wait (ready -> started) and run time.
CHANNEL_FLOW_LAST_HOUR = f"""
SELECT channel,
       count(*) FILTER (WHERE date_done >= {NOW_UTC} - interval '5 minutes') AS done_5m,
       count(*) AS done_1h,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY wait) AS wait_p50,
       percentile_cont(0.95) WITHIN GROUP (ORDER BY wait) AS wait_p95,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY run) AS run_p50,
       percentile_cont(0.95) WITHIN GROUP (ORDER BY run) AS run_p95
  FROM (SELECT channel, date_done,
               GREATEST(EXTRACT(EPOCH FROM date_started - GREATEST(date_created, eta)), 0) AS wait,
               GREATEST(COALESCE(exec_time, EXTRACT(EPOCH FROM date_done - date_started)), 0) AS run
          FROM queue_job
         WHERE state = 'done' AND date_done >= {NOW_UTC} - interval '1 hour') AS d
 GROUP BY channel
"""

# Per job function over a window: outcomes and run-time histogram buckets
# from the counters (percentiles are interpolated from the buckets, so a 7-day
# window costs no more than an hour), and the last failure message.
FUNCTION_COUNTS_SINCE = f"""
SELECT func, kind, bucket, sum(n)::bigint, sum(seconds)
  FROM ({_COUNTS_SINCE}) AS c
 WHERE kind IN ('done', 'failed', 'retried', 'run')
 GROUP BY 1, 2, 3
"""

LAST_FAILURE_BY_FUNCTION = """
SELECT DISTINCT ON (COALESCE(channel_method_name, ''))
       COALESCE(channel_method_name, ''), exc_message
  FROM queue_job WHERE state = 'failed'
 ORDER BY COALESCE(channel_method_name, ''), COALESCE(date_started, date_created) DESC NULLS LAST, id DESC
"""

# -- runner ----------------------------------------------------------------

# pg_stat_activity is read once per transaction and kept: forget that copy,
# so a long transaction (a cron, a test) sees the runner as it is now.
CLEAR_STATS_SNAPSHOT = "SELECT pg_stat_clear_snapshot()"

# The runner leading this database holds (RUNNER_LOCK_NS, 0): a two-key
# advisory lock shows as classid/objid with objsubid 2.
RUNNER_LEADER = f"""
SELECT a.pid, host(a.client_addr), a.client_hostname, a.application_name,
       a.backend_start AT TIME ZONE 'UTC', a.state, a.wait_event
  FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
 WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2
   AND l.classid = {RUNNER_LOCK_NS} AND l.objid = 0
   AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
"""

# The runner's last hand-over of a job to a worker: date_enqueued of the jobs
# running now or done lately (both served by partial indexes). Among the done
# ones, reading the last 1,000 to finish is enough: a job that finished after
# the last one handed over was already running when it was handed over, and
# no queue runs 1,000 jobs at once. (Reading every job done in the hour made
# a scrape during a fast drain read tens of thousands of rows.)
LAST_DISPATCH = f"""
SELECT GREATEST(
    (SELECT max(date_enqueued) FROM queue_job WHERE state IN ('enqueued', 'started')),
    (SELECT max(date_enqueued)
       FROM (SELECT date_enqueued FROM queue_job
              WHERE state = 'done' AND date_done >= {NOW_UTC} - interval '1 hour' AND date_enqueued IS NOT NULL
              ORDER BY date_done DESC LIMIT 1000) AS latest))
"""

IN_FLIGHT_AND_READY = f"""
SELECT count(*) FILTER (WHERE state IN ('enqueued', 'started')), count(*) FILTER (WHERE {_READY})
  FROM queue_job WHERE state IN ('pending', 'enqueued', 'started')
"""

# Started jobs running past their hard time limit (the watchdog should have
# stopped them: their worker is probably stuck).
STUCK_STARTED = f"""
SELECT channel, count(*) FROM queue_job
 WHERE state = 'started' AND hard_timeout > 0
   AND date_started < {NOW_UTC} - make_interval(secs => hard_timeout + %(grace)s)
 GROUP BY channel
"""

NOW = f"SELECT {NOW_UTC}"

# The channel records, so the dashboard can pause and resume them.
CHANNEL_RECORDS = "SELECT complete_name, id FROM queue_job_channel"
