from odoo import fields, models


class QueueJobProgress(models.Model):
    """How far a running job is, as it last said (notify_progress()).

    A table of its own, not columns of queue_job: the job's transaction
    (REPEATABLE READ) writes the job's row when it ends, and would fail with
    a serialization error had another transaction updated that row while it ran.
    """

    _name = "queue.job.progress"
    _description = "Progress of a Queue Job"
    _log_access = False

    job_id = fields.Many2one("queue.job", required=True, ondelete="cascade", index=True)
    done = fields.Integer(readonly=True)
    total = fields.Integer(readonly=True)
    message = fields.Char(readonly=True)

    _sql_constraints = [("job_uniq", "unique(job_id)", "One progress per job.")]
