import uuid

from odoo.tests.common import TransactionCase

_NOW = "(now() AT TIME ZONE 'UTC')"


def _ago(seconds):
    if seconds is None:
        return "NULL"
    return f"{_NOW} - make_interval(secs => {float(seconds)})"


class MonitorCase(TransactionCase):
    """Crafted jobs with known times, written straight to the table as the queue's own statements do."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # Start from an empty queue: the figures are compared to exact counts.
        cls.env.cr.execute("DELETE FROM queue_job")
        cls.env["queue.job.monitor"]._cron_fold_counters()
        cls.env.cr.execute("DELETE FROM queue_job_monitor_total; DELETE FROM queue_job_monitor_count_minute;"
                       " DELETE FROM queue_job_monitor_count_hour")
        cls.monitor = cls.env["queue.job.monitor"]

    def insert_job(self, state="pending", channel="root", func="<res.partner>.write", *, created_ago=0.0,
                   eta_in=None, started_ago=None, done_ago=None, exec_time=None, exc_message=None,
                   hard_timeout=None):  # fmt: skip
        """Insert one job; times are seconds relative to the transaction's now()."""
        eta = "NULL" if eta_in is None else f"{_NOW} + make_interval(secs => {float(eta_in)})"
        self.env.cr.execute(
            f"""
            INSERT INTO queue_job (uuid, state, channel, channel_method_name, model_name, method_name, name,
                                   date_created, eta, date_enqueued, date_started, date_done, exec_time,
                                   exc_message, hard_timeout, retry, max_retries, priority)
            VALUES (%(uuid)s, %(state)s, %(channel)s, %(func)s, 'res.partner', 'write', 'crafted job',
                    {_ago(created_ago)}, {eta}, {_ago(started_ago)}, {_ago(started_ago)}, {_ago(done_ago)},
                    %(exec_time)s, %(exc_message)s, %(hard_timeout)s, 0, 5, 10)
            RETURNING id
            """,
            {"uuid": str(uuid.uuid4()), "state": state, "channel": channel, "func": func,
             "exec_time": exec_time, "exc_message": exc_message, "hard_timeout": hard_timeout},
        )  # fmt: skip
        return self.env.cr.fetchone()[0]

    def set_state(self, job_ids, state, *, started_ago=None, done_ago=None, exec_time=None):
        """One UPDATE of the given jobs, as the runner or a worker would write it."""
        sets = ["state = %(state)s"]
        if started_ago is not None:
            sets.append(f"date_started = {_ago(started_ago)}")
        if done_ago is not None:
            sets.append(f"date_done = {_ago(done_ago)}")
        if exec_time is not None:
            sets.append(f"exec_time = {float(exec_time)}")
        self.env.cr.execute(
            f"UPDATE queue_job SET {', '.join(sets)} WHERE id = ANY(%(ids)s)", {"state": state, "ids": list(job_ids)}
        )

    def channel(self, name):
        rows = {row["channel"]: row for row in self.monitor.dashboard_data()["channels"]}
        return rows[name]
