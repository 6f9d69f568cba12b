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

# Pending jobs are claimed per channel in (priority, id) order: one partial
# index serves the claim, the scan of channels with work, and stays small
# because done jobs leave it.
CREATE_INDEXES = """
CREATE INDEX IF NOT EXISTS queue_job_pending_claim_idx
    ON queue_job (channel, priority, id) WHERE state = 'pending';
CREATE INDEX IF NOT EXISTS queue_job_pending_eta_idx
    ON queue_job (eta) WHERE state = 'pending' AND eta IS NOT NULL;
CREATE INDEX IF NOT EXISTS queue_job_running_idx
    ON queue_job (channel) WHERE state IN ('enqueued', 'started');
CREATE INDEX IF NOT EXISTS queue_job_waiting_idx
    ON queue_job (graph_uuid) WHERE state = 'wait_dependencies';
CREATE INDEX IF NOT EXISTS queue_job_vacuum_idx
    ON queue_job (channel, date_done) WHERE state IN ('done', 'cancelled');
CREATE INDEX IF NOT EXISTS queue_job_failed_idx
    ON queue_job (channel) WHERE state = 'failed';
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

# The best ready jobs of each channel, at most ``per_channel`` each.
CANDIDATES = f"""
SELECT j.id, j.channel, j.priority
  FROM unnest(%(channels)s::varchar[]) AS c(name)
 CROSS JOIN LATERAL (
        SELECT id, channel, priority FROM queue_job
         WHERE state = 'pending' AND channel = c.name
           AND (eta IS NULL OR eta <= {NOW_UTC})
         ORDER BY priority, id
         LIMIT %(per_channel)s) AS j
 ORDER BY j.priority, j.id
"""

# The state check makes a claim safe even if another runner got there first.
MARK_ENQUEUED = f"""
UPDATE queue_job SET state = 'enqueued', date_enqueued = {NOW_UTC}
 WHERE id = ANY(%(ids)s) AND state = 'pending'
RETURNING id, uuid, channel
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
# time in its slot: same order as the runner's claim.
START_NEXT = (
    f"""
UPDATE queue_job
   SET state = 'started', date_enqueued = {NOW_UTC}, date_started = {NOW_UTC},
       worker_pid = %(pid)s, retry = retry + 1,
       exc_name = NULL, exc_message = NULL, exc_info = NULL
 WHERE id = (
        SELECT j.id
          FROM unnest(%(channels)s::varchar[]) AS c(name)
         CROSS JOIN LATERAL (
                SELECT id, priority FROM queue_job
                 WHERE state = 'pending' AND channel = c.name
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
                                   "exec_time", "date_cancelled", "worker_pid", "worker_losses"})
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

CANCEL_CHILDREN = """
WITH RECURSIVE descendants(uuid) AS (
    SELECT jsonb_array_elements_text(dependencies -> 'reverse_depends_on')
      FROM queue_job WHERE id = %(id)s
    UNION
    SELECT jsonb_array_elements_text(q.dependencies -> 'reverse_depends_on')
      FROM queue_job q JOIN descendants d ON q.uuid = d.uuid
     WHERE q.graph_uuid = %(graph_uuid)s
)
UPDATE queue_job SET state = 'cancelled', date_cancelled = (now() AT TIME ZONE 'UTC'),
       result = %(result)s
 WHERE graph_uuid = %(graph_uuid)s AND state = 'wait_dependencies'
   AND uuid IN (SELECT uuid FROM descendants)
RETURNING uuid
"""
