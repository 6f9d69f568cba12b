"""Jobs whose cost is the queue's own: written only against the API both
OCA's queue_job and this one offer (``with_delay()``), so that the same
addon measures both."""

from odoo import models

STAMP_TABLE = "queue_job_bench_stamp"


class QueueJobBench(models.Model):
    _name = "queue.job.bench"
    _description = "Job queue benchmark"

    def init(self):
        # A plain table, not a model: the stamp must cost one INSERT, and
        # clock_timestamp() (not now()) is the moment the job's code started.
        self.env.cr.execute(
            f"CREATE TABLE IF NOT EXISTS {STAMP_TABLE} (token text, started_at timestamptz)"
        )
        self.env.cr.execute(
            f"CREATE INDEX IF NOT EXISTS {STAMP_TABLE}_token_idx ON {STAMP_TABLE} (token)"
        )

    def bench_noop(self):
        """Benchmark: do nothing"""

    def bench_stamp(self, token):
        """Benchmark: stamp the start time"""
        self.env.cr.execute(
            f"INSERT INTO {STAMP_TABLE} (token, started_at) VALUES (%s, clock_timestamp())",
            (token,),
        )
