"""Use case 6: a traffic generator, so that the job views are never empty in a demo.

Off by default. Switched on from the demo menu, a scheduled action enqueues
a handful of realistic jobs every minute: mixed priorities, some with an
ETA, about 10 % that need a retry before they succeed and about 5 % that fail
for good, with a message a person can act on.
"""

import random
import time
from datetime import datetime, timedelta

from odoo import _, api, fields, models
from odoo.exceptions import AccessError

from odoo.addons.queue_job.exception import RetryableJobError

CRON = "queue_job_demo.ir_cron_traffic"
TASKS = [
    ("Sync order SO%04d to the warehouse", 10),
    ("Send payment reminder #%d", 20),
    ("Recompute stock forecast of product %d", 50),
    ("Export contact %d to the CRM", 10),
    ("Refresh the price list of supplier %d", 30),
    ("Urgent: notify the carrier about delivery %d", 5),
]


class QueueJobDemoTraffic(models.TransientModel):
    _name = "queue.job.demo.traffic"
    _description = "Job Queue Demo: traffic generator"

    name = fields.Char(default=lambda self: _("Traffic generator"))
    running = fields.Boolean(compute="_compute_status")
    jobs_per_run = fields.Integer(compute="_compute_status", help="Jobs enqueued every minute.")
    waiting_count = fields.Integer(string="Waiting", compute="_compute_status")
    done_count = fields.Integer(string="Done", compute="_compute_status")
    failed_count = fields.Integer(string="Failed", compute="_compute_status")

    def _compute_status(self):
        cron = self.env.ref(CRON).sudo()
        counts = dict.fromkeys(("waiting", "done", "failed"), 0)
        groups = self.env["queue.job"].sudo()._read_group(
            [("model_name", "=", self._name)], ["state"], ["__count"])
        for state, count in groups:
            key = {"done": "done", "failed": "failed", "cancelled": "done"}.get(state, "waiting")
            counts[key] += count
        for record in self:
            record.running = cron.active
            record.jobs_per_run = self._jobs_per_run()
            record.waiting_count = counts["waiting"]
            record.done_count = counts["done"]
            record.failed_count = counts["failed"]

    def _jobs_per_run(self) -> int:
        return int(self.env["ir.config_parameter"].sudo().get_param("queue_job_demo.traffic_jobs_per_run") or 20)

    def _check_manager(self):
        if not self.env.user.has_group("queue_job.group_queue_job_manager"):
            raise AccessError(_("Only Job Queue managers may switch the traffic generator on or off."))

    def action_switch_on(self):
        self._check_manager()
        self.env.ref(CRON).sudo().write({"active": True, "nextcall": fields.Datetime.now()})
        return True

    def action_switch_off(self):
        self._check_manager()
        self.env.ref(CRON).sudo().active = False
        return True

    @api.model
    def _cron_generate_traffic(self, count: int | None = None, seed: int | None = None) -> int:
        """Enqueue ``count`` jobs like those of a busy database; returns how many."""
        rng = random.Random(seed)
        count = count or self._jobs_per_run()
        for _n in range(count):
            label, priority = rng.choice(TASKS)
            roll = rng.random()
            outcome = "retry" if roll < 0.10 else "fail" if roll < 0.15 else "ok"
            eta = rng.randint(30, 600) if rng.random() < 0.2 else None
            self.browse().with_delay(
                priority=priority, eta=eta, description=label % rng.randint(1, 9999), max_retries=3,
            ).simulate_work(
                outcome, round(rng.uniform(0.1, 1.5), 2), (datetime.now() + timedelta(seconds=20)).isoformat()
            )
        return count

    def simulate_work(self, outcome: str, seconds: float, busy_until: str) -> str:
        """One generated job: works a moment, then succeeds, asks for a retry or fails."""
        time.sleep(seconds)
        if outcome == "retry" and datetime.now() < datetime.fromisoformat(busy_until):
            raise RetryableJobError(_("The remote system is busy, trying again shortly."), seconds=20)
        if outcome == "fail":
            raise ValueError(_("The partner API rejected the request: its reference is unknown there. "
                               "Check the record, then requeue or cancel this job."))
        return _("Done in %.1f s", seconds)
