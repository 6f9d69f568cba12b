"""Every SQL statement the runner and the workers rely on, named for what it does.

This module is the database contract of the queue: read it to know how jobs
are claimed, leased, healed and announced. Statements take psycopg2-style
named parameters. Times are UTC without time zone, like Odoo's Datetime.

Leases. A worker running a job holds a session-level advisory lock
``(JOB_LOCK_NS, job id)`` on the database connection the job runs in, taken
in the same statement that marks the job started. If the worker process or
its connection dies, PostgreSQL drops the lock; the runner finds started
jobs whose lock it can take and puts them back to pending (or fails them once
their tries are spent). No clock, heartbeat or guess is involved.

Leadership. Each runner holds ``(RUNNER_LOCK_NS, 0)`` on its connection to a
database while it dispatches for it; other runners wait for the lock, so one
runner at a time dispatches into a database.
"""

from __future__ import annotations

# Two-key advisory locks: (namespace, key). Namespaces are arbitrary but fixed.
RUNNER_LOCK_NS = 0x5159_4A52  # "QYJR"
JOB_LOCK_NS = 0x5159_4A4A  # "QYJJ"

NOTIFY_CHANNEL = "queue_job"

NOW_UTC = "(now() AT TIME ZONE 'UTC')"

# -- schema --------------------------------------------------------------

# The autovacuum picks jobs by the date they finished, whatever their state
# (OCA's rule: rows migrated or written by hand count too), but never a job
# that a worker has or is about to have.
_VACUUMABLE = "(date_done IS NOT NULL OR date_cancelled IS NOT NULL) AND state NOT IN ('enqueued', 'started')"

# Pending jobs are claimed per channel in (priority, id) order: one partial
# index serves the claim, the scan of channels with work, and stays small
# because done jobs leave it.
CREATE_INDEXES = f"""
CREATE INDEX IF NOT EXISTS queue_job_pending_claim_idx
    ON queue_job (channel, priority, id) WHERE state = 'pending';
CREATE INDEX IF NOT EXISTS queue_job_pending_eta_idx
    ON queue_job (eta) WHERE state = 'pending' AND eta IS NOT NULL;
CREATE INDEX IF NOT EXISTS queue_job_running_idx
    ON queue_job (channel) WHERE state IN ('enqueued', 'started');
CREATE INDEX IF NOT EXISTS queue_job_waiting_idx
    ON queue_job (graph_uuid) WHERE state = 'wait_dependencies';
DROP INDEX IF EXISTS queue_job_vacuum_idx;
CREATE INDEX IF NOT EXISTS queue_job_finished_idx
    ON queue_job (channel, LEAST(date_done, date_cancelled)) WHERE {_VACUUMABLE};
CREATE INDEX IF NOT EXISTS queue_job_failed_idx
    ON queue_job (channel) WHERE state = 'failed';
CREATE INDEX IF NOT EXISTS queue_job_running_key_idx
    ON queue_job (concurrency_key) WHERE concurrency_key IS NOT NULL AND state IN ('enqueued', 'started');
"""

# The jobs of a record: ``record_refs`` holds "model,id" of the records a
# job runs on (filled at enqueue), searched with @> / && through this index.
# New entries wait in the index's pending list, which every lookup reads
# whole: kept small (256 kB, not 4 MB) so a lookup stays in the milliseconds
# while inserts are still merged in batches.
CREATE_RECORD_REFS_INDEX = """
CREATE INDEX IF NOT EXISTS queue_job_record_refs_idx ON queue_job USING gin (record_refs)
    WITH (gin_pending_list_limit = 256);
"""

# Counts by state of the jobs of some records, one row per (record, state).
JOB_COUNTS_OF_RECORDS = """
SELECT ref, q.state, count(*)
  FROM queue_job q CROSS JOIN LATERAL unnest(q.record_refs) AS ref
 WHERE q.record_refs && %(refs)s::varchar[] AND ref = ANY(%(refs)s::varchar[])
   AND (%(user_id)s IS NULL OR q.user_id = %(user_id)s)
 GROUP BY ref, q.state
"""

JOBS_OF_RECORD = "SELECT id FROM queue_job WHERE record_refs @> %(refs)s::varchar[]"
JOBS_OF_RECORDS = "SELECT id FROM queue_job WHERE record_refs && %(refs)s::varchar[]"

# identity_key: at most one job per key that has not started yet. A started
# job does not count, so a key can be enqueued again while its previous job
# runs (the new one may have newer data to process).
_IDENTITY_WAITING = "identity_key IS NOT NULL AND state IN ('wait_dependencies', 'pending', 'enqueued')"
CREATE_IDENTITY_INDEX = f"""
CREATE UNIQUE INDEX IF NOT EXISTS queue_job_identity_key_uniq
    ON queue_job (identity_key)
    WHERE {_IDENTITY_WAITING};
"""
# Appended to an INSERT of new jobs: a job whose key already waits is not
# stored. Under REPEATABLE READ, a twin committed after the transaction's
# snapshot raises a serialization failure instead (Odoo retries the request).
SKIP_WAITING_TWINS = f"ON CONFLICT (identity_key) WHERE {_IDENTITY_WAITING} DO NOTHING RETURNING uuid"

# One NOTIFY per statement that makes jobs pending, not one per row: the
# runner only needs to know that there is something new to look at.
CREATE_NOTIFY_TRIGGERS = f"""
CREATE OR REPLACE FUNCTION queue_job_notify_pending() RETURNS trigger AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM new_rows WHERE state = 'pending') THEN
        PERFORM pg_notify('{NOTIFY_CHANNEL}', '');
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS queue_job_notify ON queue_job;
DROP TRIGGER IF EXISTS queue_job_notify_insert ON queue_job;
DROP TRIGGER IF EXISTS queue_job_notify_update ON queue_job;
CREATE TRIGGER queue_job_notify_insert AFTER INSERT ON queue_job
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION queue_job_notify_pending();
CREATE TRIGGER queue_job_notify_update AFTER UPDATE ON queue_job
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION queue_job_notify_pending();
"""

# Channels edited in the interface: one NOTIFY per statement that changes
# queue_job_channel, with a payload of its own, tells the runner to read them again.
CHANNELS_CHANGED = "channels"
CREATE_CHANNEL_NOTIFY_TRIGGER = f"""
CREATE OR REPLACE FUNCTION queue_job_notify_channels() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('{NOTIFY_CHANNEL}', '{CHANNELS_CHANGED}');
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS queue_job_channel_notify ON queue_job_channel;
CREATE TRIGGER queue_job_channel_notify AFTER INSERT OR UPDATE OR DELETE ON queue_job_channel
    FOR EACH STATEMENT EXECUTE FUNCTION queue_job_notify_channels();
"""

# Starts of jobs in rate-limited channels, one row per job and limited
# channel, written in the statement that claims the jobs: the count holds
# across runners and across a failover. Rows older than the longest period
# are pruned.
CREATE_CHANNEL_STARTS = """
CREATE TABLE IF NOT EXISTS queue_job_channel_start (
    channel varchar NOT NULL,
    date_started timestamp without time zone NOT NULL
);
CREATE INDEX IF NOT EXISTS queue_job_channel_start_idx ON queue_job_channel_start (channel, date_started);
"""

# -- runner: databases and leadership -----------------------------------

DATABASE_HAS_QUEUE_JOB = """
SELECT 1 FROM ir_module_module
 WHERE name = 'queue_job' AND state IN ('installed', 'to upgrade')
   AND EXISTS (SELECT 1 FROM pg_tables WHERE tablename = 'queue_job')
"""

# ``odoo-bin -u`` marks modules 'to upgrade' and loads them in one
# transaction: until it commits, other sessions see the states unchanged,
# only the lock its writes hold on ir_module_module. Reading pg_locks never
# waits; reading ir_module_module (below) would wait for an upgrade that
# altered that table, so this one is asked first.
MODULES_BEING_CHANGED = """
SELECT EXISTS (SELECT 1 FROM pg_locks
                WHERE locktype = 'relation' AND mode = 'RowExclusiveLock' AND granted
                  AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
                  AND relation = 'ir_module_module'::regclass AND pid <> pg_backend_pid())
"""

# A module upgrade is running (or was interrupted): dispatch nothing, the
# code the jobs would run is in flux.
DATABASE_IS_UPGRADING = """
SELECT EXISTS (SELECT 1 FROM ir_module_module
                WHERE state IN ('to upgrade', 'to install', 'to remove'))
"""

IS_ODOO_DATABASE = "SELECT 1 FROM pg_tables WHERE tablename = 'ir_module_module'"

# Code newer than the database (deployed without ``-u queue_job``): the
# columns the statements here rely on may be missing.
EXISTING_COLUMNS = """
SELECT column_name FROM information_schema.columns
 WHERE table_schema = current_schema() AND table_name = 'queue_job' AND column_name = ANY(%(columns)s)
"""

# The columns of queue_job_channel the runner reads.
CHANNEL_COLUMNS = ("complete_name", "own_settings", "capacity", "sequential", "throttle", "rate_limit",
                   "paused", "aging_step")  # fmt: skip
EXISTING_CHANNEL_COLUMNS = """
SELECT column_name FROM information_schema.columns
 WHERE table_schema = current_schema() AND table_name = 'queue_job_channel' AND column_name = ANY(%(columns)s)
"""

CHANNEL_SETTINGS = f"SELECT {', '.join(CHANNEL_COLUMNS)} FROM queue_job_channel"

TRY_LEAD = f"SELECT pg_try_advisory_lock({RUNNER_LOCK_NS}, 0)"

DATABASE_SECRET = "SELECT value FROM ir_config_parameter WHERE key = 'database.secret'"

LISTEN = f"LISTEN {NOTIFY_CHANNEL}"

# -- runner: what to dispatch --------------------------------------------

# The distinct channels that have pending jobs, by skipping through the
# claim index one channel at a time: cost grows with the number of channels,
# not the number of jobs.
PENDING_CHANNELS = """
WITH RECURSIVE channels(name) AS (
    (SELECT channel FROM queue_job WHERE state = 'pending' ORDER BY channel LIMIT 1)
    UNION ALL
    SELECT (SELECT channel FROM queue_job
             WHERE state = 'pending' AND channel > channels.name
             ORDER BY channel LIMIT 1)
      FROM channels WHERE channels.name IS NOT NULL
)
SELECT name FROM channels WHERE name IS NOT NULL
"""

RUNNING_BY_CHANNEL = """
SELECT channel, count(*) FROM queue_job
 WHERE state IN ('enqueued', 'started') GROUP BY channel
"""

FAILED_CHANNELS = """
SELECT DISTINCT channel FROM queue_job WHERE state = 'failed' AND channel = ANY(%(channels)s)
"""

# Concurrency keys: a job with a key starts only while fewer than its
# concurrency_limit jobs with that key are enqueued or started. Jobs without
# a key pay one IS NULL test.
_KEY_HAS_ROOM = """(concurrency_key IS NULL OR (
    SELECT count(*) FROM queue_job running
     WHERE running.concurrency_key = queue_job.concurrency_key
       AND running.state IN ('enqueued', 'started')) < COALESCE(concurrency_limit, 1))"""

# The best ready jobs of each channel, at most ``per_channel`` each; a keyed
# job whose key is used up is skipped, so the jobs behind it are not held up.
CANDIDATES = f"""
SELECT j.id, j.channel, j.priority, j.concurrency_key, j.concurrency_limit
  FROM unnest(%(channels)s::varchar[]) AS c(name)
 CROSS JOIN LATERAL (
        SELECT id, channel, priority, concurrency_key, concurrency_limit FROM queue_job
         WHERE state = 'pending' AND channel = c.name
           AND (eta IS NULL OR eta <= {NOW_UTC})
           AND {_KEY_HAS_ROOM}
         ORDER BY priority, id
         LIMIT %(per_channel)s) AS j
 ORDER BY j.priority, j.id
"""

# The same for one channel with aging: a job's effective priority improves
# by one per ``step`` seconds since it was created. Within one priority the
# oldest jobs (smallest ids) are the best, so the best jobs are among the
# first ``per_channel`` of each priority present: a skip scan of the claim
# index over the priorities, then that many rows of each.
CANDIDATES_AGED = f"""
WITH RECURSIVE levels(priority) AS (
    (SELECT priority FROM queue_job WHERE state = 'pending' AND channel = %(channel)s
      ORDER BY priority LIMIT 1)
    UNION ALL
    SELECT (SELECT q.priority FROM queue_job q
             WHERE q.state = 'pending' AND q.channel = %(channel)s AND q.priority > levels.priority
             ORDER BY q.priority LIMIT 1)
      FROM levels WHERE levels.priority IS NOT NULL
)
SELECT j.id, j.channel, j.effective, j.concurrency_key, j.concurrency_limit
  FROM levels
 CROSS JOIN LATERAL (
        SELECT id, channel, concurrency_key, concurrency_limit,
               priority - floor(EXTRACT(EPOCH FROM {NOW_UTC} - date_created) / %(step)s)::int AS effective
          FROM queue_job
         WHERE state = 'pending' AND channel = %(channel)s AND priority = levels.priority
           AND (eta IS NULL OR eta <= {NOW_UTC})
           AND {_KEY_HAS_ROOM}
         ORDER BY id
         LIMIT %(per_channel)s) AS j
 WHERE levels.priority IS NOT NULL
 ORDER BY j.effective, j.id
 LIMIT %(per_channel)s
"""

# Jobs with these keys that hold a slot, for the keys of the candidates.
RUNNING_BY_KEY = """
SELECT concurrency_key, count(*) FROM queue_job
 WHERE concurrency_key = ANY(%(keys)s) AND state IN ('enqueued', 'started')
 GROUP BY concurrency_key
"""

# Starts in the current period of each rate-limited channel: how many, and
# seconds since the newest and the oldest of them (database clock).
RATE_WINDOWS = f"""
SELECT r.name, count(s.date_started),
       EXTRACT(EPOCH FROM {NOW_UTC} - max(s.date_started)),
       EXTRACT(EPOCH FROM {NOW_UTC} - min(s.date_started))
  FROM unnest(%(channels)s::varchar[], %(periods)s::float8[]) AS r(name, period)
  LEFT JOIN queue_job_channel_start s
    ON s.channel = r.name AND s.date_started > {NOW_UTC} - make_interval(secs => r.period)
 GROUP BY r.name
"""

PRUNE_CHANNEL_STARTS = f"""
DELETE FROM queue_job_channel_start WHERE date_started < {NOW_UTC} - make_interval(secs => %(keep)s)
"""

# Whether a job's channel (or an ancestor, by name) is paused, or, with
# ``pacing``, rate-limited or aged: then its jobs start by the runner's claim
# only. A function, so that the statements on the path of every job stay
# cheap to plan; PL/pgSQL keeps its query's plan for the session.
CREATE_CHANNEL_FUNCTIONS = """
CREATE OR REPLACE FUNCTION queue_job_channel_held(job_channel varchar, pacing boolean) RETURNS boolean AS $$
DECLARE
    full_name varchar := CASE WHEN job_channel = 'root' OR left(job_channel, 5) = 'root.'
                              THEN job_channel ELSE 'root.' || job_channel END;
BEGIN
    RETURN EXISTS (
        SELECT 1 FROM queue_job_channel held
         WHERE (held.paused OR (pacing AND (COALESCE(held.rate_limit, '') <> '' OR COALESCE(held.aging_step, 0) > 0)))
           AND (held.complete_name = full_name
                OR left(full_name, length(held.complete_name) + 1) = held.complete_name || '.'));
END;
$$ LANGUAGE plpgsql STABLE;
"""
_PAUSED = "queue_job_channel_held(queue_job.channel, false)"
_HELD_FOR_SLOT = "queue_job_channel_held(u.name, true)"

# The state check makes a claim safe even if another runner got there first;
# a channel paused since the runner last read the channels starts nothing.
MARK_ENQUEUED = f"""
UPDATE queue_job SET state = 'enqueued', date_enqueued = {NOW_UTC}
 WHERE id = ANY(%(ids)s) AND state = 'pending' AND NOT {_PAUSED}
RETURNING id, uuid, channel
"""

# The same, for a claim with jobs of rate-limited channels: their starts are
# counted in the same statement, so no crash can start a job uncounted.
MARK_ENQUEUED_COUNTED = f"""
WITH claimed AS (
    UPDATE queue_job SET state = 'enqueued', date_enqueued = {NOW_UTC}
     WHERE id = ANY(%(ids)s) AND state = 'pending' AND NOT {_PAUSED}
    RETURNING id, uuid, channel
), counted AS (
    INSERT INTO queue_job_channel_start (channel, date_started)
    SELECT r.name, {NOW_UTC}
      FROM unnest(%(rated_ids)s::int[], %(rated_channels)s::varchar[]) AS r(id, name)
      JOIN claimed ON claimed.id = r.id
)
SELECT id, uuid, channel FROM claimed
"""

# A request to a worker failed before the job started: give it back, due
# again a little later (not sooner than its own eta); its try is not counted.
PUT_BACK_PENDING = f"""
UPDATE queue_job SET state = 'pending', date_enqueued = NULL,
       eta = GREATEST(eta, {NOW_UTC} + make_interval(secs => %(delay)s))
 WHERE uuid = %(uuid)s AND state = 'enqueued'
"""

NEXT_ETA = f"""
SELECT EXTRACT(EPOCH FROM min(eta) - {NOW_UTC}) FROM queue_job
 WHERE state = 'pending' AND eta > {NOW_UTC}
"""

# -- runner: healing -------------------------------------------------------

# Jobs whose worker is gone: started, or handed over and not started within
# the grace period (unless the runner's request is still on its way), and
# nobody holds their lease. Tries were counted when
# the job started; a job out of tries fails with a message saying why.
_IDENTITY_TAKEN = """
q.identity_key IS NOT NULL AND EXISTS (
    SELECT 1 FROM queue_job other
     WHERE other.identity_key = q.identity_key AND other.id <> q.id
       AND other.state IN ('wait_dependencies', 'pending', 'enqueued'))
"""

HEAL_ORPHANS = f"""
WITH candidates AS (
    SELECT id FROM queue_job
     WHERE state = 'started'
        OR (state = 'enqueued' AND date_enqueued < {NOW_UTC} - make_interval(secs => %(grace)s)
            AND NOT (uuid = ANY(%(in_flight)s::varchar[])))
     FOR UPDATE SKIP LOCKED
), orphans AS (
    SELECT q.id,
           q.state = 'started' AND (
               (q.max_retries > 0 AND q.retry >= q.max_retries)
               OR COALESCE(q.worker_losses, 0) + 1 >= %(max_losses)s) AS exhausted,
           {_IDENTITY_TAKEN} AS superseded
      FROM candidates c JOIN queue_job q ON q.id = c.id
     WHERE pg_try_advisory_xact_lock({JOB_LOCK_NS}, c.id)
)
UPDATE queue_job q
   SET state = CASE WHEN o.exhausted THEN 'failed'
                    WHEN o.superseded THEN 'cancelled' ELSE 'pending' END,
       exc_name = CASE WHEN o.exhausted THEN 'queue_job.WorkerLost' ELSE q.exc_name END,
       exc_message = CASE WHEN o.exhausted
           THEN 'The worker running this job died ' || (COALESCE(q.worker_losses, 0) + 1)
                || ' time(s) (killed, out of memory, time limit or lost connection); gave up after '
                || q.retry || ' tries'
           ELSE q.exc_message END,
       worker_losses = COALESCE(q.worker_losses, 0) + CASE WHEN q.state = 'started' THEN 1 ELSE 0 END,
       result = CASE
           WHEN o.superseded THEN 'Worker lost; a newer job with the same identity key is waiting'
           WHEN q.state = 'started' THEN 'Worker lost while running (try ' || q.retry || ')'
           ELSE q.result END,
       date_cancelled = CASE WHEN o.superseded THEN {NOW_UTC} ELSE q.date_cancelled END,
       date_enqueued = NULL, date_started = NULL, worker_pid = NULL
  FROM orphans o
 WHERE q.id = o.id
RETURNING q.uuid, q.channel, q.state, q.retry
"""

# A worker that died between committing a parent and waking its children
# leaves them waiting: wake every waiting job whose parents are all done.
WAKE_READY_CHILDREN = """
UPDATE queue_job child SET state = 'pending'
 WHERE child.id IN (
        SELECT w.id FROM queue_job w
         WHERE w.state = 'wait_dependencies'
           AND NOT EXISTS (
                SELECT 1 FROM queue_job parent
                 WHERE parent.graph_uuid = w.graph_uuid
                   AND parent.uuid IN (SELECT jsonb_array_elements_text(
                                              w.dependencies -> 'depends_on'))
                   AND parent.state <> 'done')
         LIMIT 1000
         FOR UPDATE SKIP LOCKED)
RETURNING child.uuid
"""

# -- worker: one job at a time, on the job's own connection -----------------

# Run in a transaction at READ COMMITTED: SKIP LOCKED and a snapshot taken
# before a concurrent claim committed do not mix at REPEATABLE READ.
SET_READ_COMMITTED = "SET TRANSACTION ISOLATION LEVEL READ COMMITTED"

# A started job returns what the worker needs to run it: no second query.
JOB_ROW_COLUMNS = (
    "id", "uuid", "retry", "max_retries", "model_name", "method_name", "records", "args", "kwargs",
    "user_id", "company_id", "channel", "priority", "eta", "name", "identity_key", "graph_uuid",
    "dependencies", "date_created", "date_enqueued", "date_started", "timeout", "hard_timeout",
    "job_batch_id", "notify",
)  # fmt: skip

_STARTED_RETURNING = f"""
RETURNING {", ".join(JOB_ROW_COLUMNS)}, pg_advisory_lock({JOB_LOCK_NS}, id) IS NULL AS leased
"""

START_ENQUEUED = (
    f"""
UPDATE queue_job
   SET state = 'started', date_started = {NOW_UTC}, worker_pid = %(pid)s,
       retry = retry + 1, exc_name = NULL, exc_message = NULL, exc_info = NULL
 WHERE uuid = %(uuid)s AND state = 'enqueued'
"""
    + _STARTED_RETURNING
)

# The next ready job of the slot's channels, for a worker that still has
# time in its slot: same order as the runner's claim. Jobs with a
# concurrency key, and channels paused, rate-limited or aged (checked here,
# so that a change made while the slot runs holds at once), are left to the
# runner's claim.
START_NEXT = (
    f"""
UPDATE queue_job
   SET state = 'started', date_enqueued = {NOW_UTC}, date_started = {NOW_UTC},
       worker_pid = %(pid)s, retry = retry + 1,
       exc_name = NULL, exc_message = NULL, exc_info = NULL
 WHERE id = (
        SELECT j.id
          FROM (SELECT u.name FROM unnest(%(channels)s::varchar[]) AS u(name)
                 WHERE NOT {_HELD_FOR_SLOT}) AS c(name)
         CROSS JOIN LATERAL (
                SELECT id, priority FROM queue_job
                 WHERE state = 'pending' AND channel = c.name AND concurrency_key IS NULL
                   AND (eta IS NULL OR eta <= {NOW_UTC})
                 ORDER BY priority, id
                 LIMIT 1
                 FOR UPDATE SKIP LOCKED) AS j
         ORDER BY j.priority, j.id
         LIMIT 1)
"""
    + _STARTED_RETURNING
)

RELEASE_LEASE = f"SELECT pg_advisory_unlock({JOB_LOCK_NS}, %(id)s)"
# Session advisory locks on a worker's connection are only ever job leases.
RELEASE_ALL_LEASES = "SELECT pg_advisory_unlock_all()"

# One round trip between two jobs of a slot: give back the last job's lease
# and claim the next one.
RELEASE_AND_START_NEXT = f"{SET_READ_COMMITTED}; {RELEASE_LEASE}; " + START_NEXT
START_ENQUEUED_RC = f"{SET_READ_COMMITTED}; " + START_ENQUEUED

MARK_DONE = f"""
UPDATE queue_job
   SET state = 'done', date_done = {NOW_UTC}, result = %(result)s,
       exec_time = EXTRACT(EPOCH FROM {NOW_UTC} - date_started),
       exc_name = NULL, exc_message = NULL, exc_info = NULL
 WHERE id = %(id)s AND state = 'started' AND retry = %(try)s
"""

# A job to retry goes back to pending, unless a newer job with the same
# identity key already waits: then that one will do the work.
POSTPONE = f"""
UPDATE queue_job q
   SET state = CASE WHEN {_IDENTITY_TAKEN} THEN 'cancelled' ELSE 'pending' END,
       date_cancelled = CASE WHEN {_IDENTITY_TAKEN} THEN {NOW_UTC} END,
       eta = {NOW_UTC} + make_interval(secs => %(seconds)s),
       result = %(result)s, retry = retry - %(uncount)s,
       date_enqueued = NULL, date_started = NULL, worker_pid = NULL,
       exc_name = NULL, exc_message = NULL, exc_info = NULL
 WHERE id = %(id)s AND state = 'started' AND retry = %(try)s
RETURNING state
"""

# The outcome of a run is written only by the run that still owns the job:
# same try, still started. A job cancelled, healed or finished by someone
# else meanwhile is left alone (and the run's transaction rolled back).
LOCK_OWN_RUN = """
SELECT 1 FROM queue_job WHERE id = %(id)s AND state = 'started' AND retry = %(try)s FOR UPDATE
"""

# Watchdog of a worker: the state of the job it watches, without locking.
RUN_STATE = "SELECT state, retry FROM queue_job WHERE id = %(id)s"

# Progress of a running job, on a short transaction of its own, in a table of
# its own (the job's transaction updates its queue_job row at the end, and
# would fail had another transaction changed it meanwhile). Only the run
# that owns the job writes: no row returned means it was cancelled or taken back.
WRITE_PROGRESS = """
INSERT INTO queue_job_progress (job_id, done, total, message)
SELECT id, %(done)s, %(total)s, %(message)s FROM queue_job
 WHERE id = %(id)s AND state = 'started' AND retry = %(try)s
ON CONFLICT (job_id) DO UPDATE
   SET done = EXCLUDED.done, total = EXCLUDED.total, message = EXCLUDED.message
RETURNING job_id
"""

# Who gets a running job's progress in their browser, and on which records it is shown.
JOB_PARTNER_AND_RECORDS = """
SELECT u.partner_id, q.record_refs[1:50] FROM queue_job q LEFT JOIN res_users u ON u.id = q.user_id
 WHERE q.id = %(id)s
"""

# A message for Odoo's bus (module bus), written without the ORM: the
# progress writer thread must not wait for the registry's lock. Same row as
# bus.bus._sendone() writes; the NOTIFY that wakes the bus goes to the
# database 'postgres', where Odoo's bus listens (see bus.models.bus).
SEND_TO_BUS = f"""
INSERT INTO bus_bus (channel, message, create_date, write_date, create_uid, write_uid)
VALUES (%(channel)s, %(message)s, {NOW_UTC}, {NOW_UTC}, 1, 1)
"""

# Whom to tell, in one bus message each, that the jobs a worker's slot ran
# have ended (jobs without progress or end notice: see executor.SlotRunner):
# only users with Odoo open (their browser polled the bus lately), so that
# jobs nobody watches cost no bus message at all.
ENDED_JOBS_AUDIENCE = f"""
SELECT q.id, q.uuid, q.state, u.partner_id, q.record_refs[1:50]
  FROM queue_job q JOIN res_users u ON u.id = q.user_id
 WHERE q.id = ANY(%(ids)s) AND u.partner_id IS NOT NULL
   AND EXISTS (SELECT 1 FROM bus_presence p
                WHERE p.user_id = q.user_id AND p.last_poll > {NOW_UTC} - interval '2 minutes')
"""

# The result file of a job that ends, written with its outcome.
SET_RESULT_FILE = "UPDATE queue_job SET result_attachment_id = %(attachment_id)s WHERE id = %(id)s"

# Past its hard time limit, a job is stopped: back to pending to be tried
# again, or failed when out of tries.
STOP_OVERRUN = f"""
UPDATE queue_job q
   SET state = CASE WHEN q.max_retries > 0 AND q.retry >= q.max_retries THEN 'failed' ELSE 'pending' END,
       exc_name = 'odoo.addons.queue_job.exception.JobTimeoutError',
       exc_message = 'Stopped after its hard time limit of ' || %(seconds)s || ' s (try ' || q.retry || ')',
       eta = CASE WHEN q.max_retries > 0 AND q.retry >= q.max_retries THEN q.eta
                  ELSE {NOW_UTC} + make_interval(secs => %(retry_in)s) END,
       date_enqueued = NULL, date_started = NULL, worker_pid = NULL
 WHERE id = %(id)s AND state = 'started' AND retry = %(try)s
RETURNING state
"""

TERMINATE_BACKEND = "SELECT pg_terminate_backend(%(pid)s)"
# Ends the statement a cancelled job's session runs (if any); a session
# waiting for its next command ignores it.
CANCEL_STATEMENT = "SELECT pg_cancel_backend(%(pid)s)"

# Every column of queue_job that some statement of this module names.
REQUIRED_COLUMNS = tuple(
    sorted(set(JOB_ROW_COLUMNS) | {"state", "exc_name", "exc_message", "exc_info", "result", "date_done",
                                   "exec_time", "date_cancelled", "worker_pid", "worker_losses",
                                   "concurrency_key", "concurrency_limit"})
)  # fmt: skip

# Lock the children first (READ COMMITTED, outside the job's transaction):
# of two parents finishing at once, the second to get here sees both done.
LOCK_CHILDREN = """
SELECT child.id FROM queue_job child
 WHERE child.graph_uuid = %(graph_uuid)s AND child.state = 'wait_dependencies'
   AND child.uuid IN (SELECT jsonb_array_elements_text(%(children)s::jsonb))
 ORDER BY child.id
   FOR UPDATE
"""

WAKE_CHILDREN = """
UPDATE queue_job child SET state = 'pending'
 WHERE child.id = ANY(%(ids)s) AND child.state = 'wait_dependencies'
   AND NOT EXISTS (
        SELECT 1 FROM queue_job parent
         WHERE parent.graph_uuid = child.graph_uuid
           AND parent.uuid IN (SELECT jsonb_array_elements_text(
                                      child.dependencies -> 'depends_on'))
           AND parent.state <> 'done')
RETURNING child.uuid
"""

# Every job after job %(id)s in its graph, however deep.
_DESCENDANTS = """WITH RECURSIVE descendants(uuid) AS (
    SELECT jsonb_array_elements_text(dependencies -> 'reverse_depends_on')
      FROM queue_job WHERE id = %(id)s
    UNION
    SELECT jsonb_array_elements_text(q.dependencies -> 'reverse_depends_on')
      FROM queue_job q JOIN descendants d ON q.uuid = d.uuid
     WHERE q.graph_uuid = %(graph_uuid)s
)
"""

CANCEL_CHILDREN = f"""
{_DESCENDANTS}UPDATE queue_job SET state = 'cancelled', date_cancelled = (now() AT TIME ZONE 'UTC'),
       result = %(result)s
 WHERE graph_uuid = %(graph_uuid)s AND state = 'wait_dependencies'
   AND uuid IN (SELECT uuid FROM descendants)
RETURNING uuid
"""

# -- maintenance ------------------------------------------------------------

CHANNELS_WITH_FINISHED_JOBS = f"SELECT DISTINCT channel FROM queue_job WHERE {_VACUUMABLE}"

FINISHED_JOBS_OLDER_THAN = f"""
SELECT id FROM queue_job
 WHERE channel IS NOT DISTINCT FROM %(channel)s AND {_VACUUMABLE}
   AND LEAST(date_done, date_cancelled) <= %(deadline)s
 LIMIT %(limit)s
"""
# -- failure branches, batches (queue_job/failure.py, models/queue_job_batch.py) --

# One on_error handler fires at most once: whoever fires it holds this lock
# (keyed by the handler's uuid) until commit, and looks for the uuid first.
ERROR_HANDLER_LOCK_NS = 0x5159_4A45  # "QYJE"
LOCK_ERROR_HANDLER = f"SELECT pg_advisory_xact_lock({ERROR_HANDLER_LOCK_NS}, hashtext(%(uuid)s))"

# A failed job requeued or set done by hand: the dependants its failure
# cancelled (their result says so) wait again.
REVIVE_DEPENDANTS = f"""
{_DESCENDANTS}UPDATE queue_job SET state = 'wait_dependencies', date_cancelled = NULL, result = NULL
 WHERE graph_uuid = %(graph_uuid)s AND state = 'cancelled'
   AND uuid IN (SELECT uuid FROM descendants)
   AND starts_with(result, %(reason_prefix)s)
RETURNING uuid
"""

JOB_UUID_EXISTS = "SELECT 1 FROM queue_job WHERE uuid = %(uuid)s LIMIT 1"

# Jobs failed by plain SQL (the runner's healing, the watchdog's hard limit)
# whose dependants still wait, or whose on_error handler was never stored.
FAILED_WITHOUT_AFTERMATH = """
SELECT f.id FROM queue_job f
 WHERE f.state = 'failed' AND f.graph_uuid IS NOT NULL
   AND (EXISTS (SELECT 1 FROM queue_job child
                 WHERE child.graph_uuid = f.graph_uuid AND child.state = 'wait_dependencies'
                   AND child.uuid IN (SELECT jsonb_array_elements_text(
                                             f.dependencies -> 'reverse_depends_on')))
        OR EXISTS (SELECT 1 FROM jsonb_array_elements(
                                  COALESCE(f.dependencies -> 'on_error', '[]'::jsonb)) AS handler(spec)
                    WHERE NOT EXISTS (SELECT 1 FROM queue_job h WHERE h.uuid = handler.spec ->> 'uuid')))
 ORDER BY f.id
 LIMIT %(limit)s
"""

# The jobs of a batch still to run or running: one index probe, whatever the batch size.
CREATE_BATCH_INDEX = """
CREATE INDEX IF NOT EXISTS queue_job_batch_unfinished_idx
    ON queue_job (job_batch_id)
 WHERE job_batch_id IS NOT NULL AND state IN ('wait_dependencies', 'pending', 'enqueued', 'started');
"""

BATCH_HAS_UNFINISHED_JOBS = """
SELECT EXISTS (SELECT 1 FROM queue_job
                WHERE job_batch_id = %(id)s
                  AND state IN ('wait_dependencies', 'pending', 'enqueued', 'started'))
"""

# A closed batch is in progress once one of its jobs has left the queue.
BATCH_STARTED = """
UPDATE queue_job_batch SET state = 'progress'
 WHERE id = %(id)s AND state = 'enqueued'
   AND EXISTS (SELECT 1 FROM queue_job
                WHERE job_batch_id = %(id)s AND state NOT IN ('wait_dependencies', 'pending'))
"""

# Only one of the transactions that find a batch complete finishes it.
FINISH_BATCH = f"""
UPDATE queue_job_batch SET state = 'finished', is_read = false, date_finished = {NOW_UTC}
 WHERE id = %(id)s AND state IN ('enqueued', 'progress')
RETURNING id
"""

BATCH_JOB_COUNTS = """
SELECT job_batch_id, state, count(*), COALESCE(sum(exec_time), 0) FROM queue_job
 WHERE job_batch_id = ANY(%(ids)s) GROUP BY job_batch_id, state
"""

# Batches left unfinished by a worker that died after its last job committed.
BATCHES_TO_CHECK = "SELECT id FROM queue_job_batch WHERE state IN ('enqueued', 'progress') ORDER BY id"

# -- recurring jobs (models/queue_job_schedule.py) ---------------------------

LOCK_DUE_SCHEDULES = """
SELECT id FROM queue_job_schedule
 WHERE active AND next_call IS NOT NULL AND next_call <= %(now)s
 ORDER BY next_call, id
   FOR UPDATE SKIP LOCKED
"""
