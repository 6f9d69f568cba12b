import logging

from odoo import api, fields, models

from odoo.addons.queue_job.job import identity_exact

_logger = logging.getLogger(__name__)


class IrCron(models.Model):
    """A scheduled action that enqueues its server action as a job instead of running it.

    The cron thread only stores a job; a queue worker runs the action, in
    the cron's channel, with retries and the job's history.
    """

    _inherit = "ir.cron"

    run_as_queue_job = fields.Boolean(help="Enqueue the action as a job instead of running it in the cron thread.")
    no_parallel_queue_job_run = fields.Boolean(
        string="No parallel run",
        default=True,
        help="Enqueue nothing while a job of this action with the same arguments still waits to run.",
    )
    channel_id = fields.Many2one(
        "queue.job.channel",
        string="Channel",
        compute="_compute_channel_id",
        store=True,
        readonly=False,
        help="Channel of the jobs; by default root.ir_cron.",
    )

    @api.depends("run_as_queue_job")
    def _compute_channel_id(self):
        default = self.env.ref("queue_job_cron.channel_root_ir_cron", raise_if_not_found=False)
        for cron in self:
            if not cron.run_as_queue_job:
                cron.channel_id = False
            elif not cron.channel_id:
                cron.channel_id = default

    def _run_job_as_queue_job(self, server_action):
        """The job: run the server action (as the cron's user, who enqueued it)."""
        return server_action.run()

    def _delay_run_job_as_queue_job(self, server_action):
        self.ensure_one()
        return self.with_delay(
            priority=self.priority,
            description=self.name,
            channel=self.channel_id.complete_name or None,
            identity_key=identity_exact if self.no_parallel_queue_job_run else None,
        )._run_job_as_queue_job(server_action=server_action)

    def method_direct_trigger(self):
        queued = self.filtered("run_as_queue_job")
        for cron in queued:
            cron = cron.with_user(cron.user_id).with_context(lastcall=cron.lastcall)
            cron._delay_run_job_as_queue_job(server_action=cron.ir_actions_server_id)
        if self - queued:
            for cron in self - queued:
                super(IrCron, cron).method_direct_trigger()
        return True

    def _callback(self, cron_name, server_action_id):
        if not self.run_as_queue_job:
            return super()._callback(cron_name, server_action_id)
        server_action = self.env["ir.actions.server"].browse(server_action_id)
        job_ = self._delay_run_job_as_queue_job(server_action=server_action)
        _logger.info("cron %r (%s) enqueued as job %s", cron_name, self.id, job_.uuid)
        return job_
