"""Jobs of every kind an addon written for OCA queue_job enqueues."""

import os
import signal
import time

from odoo import api, fields, models
from odoo.exceptions import UserError

from odoo.addons.queue_job.delay import chain, group
from odoo.addons.queue_job.exception import (
    FailedJobError,
    JobCancelledError,
    JobTimeoutError,
    RetryableJobError,
)
from odoo.addons.queue_job.job import identity_exact
from odoo.addons.queue_job.watchdog import check_job_cancelled, job_cancel_requested


def _work(seconds, step=0.05):
    """Python work in short steps, where the job's thread can be interrupted"""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(step)


class QueueJobProbe(models.Model):
    _name = "queue.job.probe"
    _description = "Job queue probe"

    name = fields.Char(required=True)
    runs = fields.Integer(help="How many times a job of this probe committed its effect")

    # -- job methods ---------------------------------------------------------

    def job_touch(self, tag="touch"):
        """Record one run of a job"""
        self.ensure_one()
        self.env["queue.job.probe.effect"].create(
            {"probe_id": self.id, "tag": tag, "job_uuid": self.env.context.get("job_uuid")}
        )
        self.runs += 1
        return f"touched {self.name} ({tag})"

    @api.model
    def job_scheduled(self, seconds=0.0, tag="scheduled"):
        """A model-level job, as recurring schedules call them: work a while, then record a run"""
        probe = self.search([("name", "=", "scheduled")], limit=1) or self.create({"name": "scheduled"})
        return probe.job_sleep(seconds, tag)

    def job_sleep(self, seconds, tag="sleep"):
        """Work for a while (in short steps, as Python code does), then record a run"""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            time.sleep(0.05)
        return self.job_touch(tag)

    def job_stubborn(self, seconds, tag="stubborn"):
        """Record a run first, then ignore every interruption for a while"""
        self.job_touch(tag)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                time.sleep(0.05)
            except Exception:  # noqa: BLE001 - this job means to be stubborn
                pass
        return "survived"

    # -- time limits and cancellation (limits in data/queue_job_data.xml) ----

    def job_catch_timeout(self, seconds, tag="timeout"):
        """Work up to ``seconds``; past the soft time limit, record a run and say when the limit came"""
        started = time.monotonic()
        try:
            _work(seconds)
        except JobTimeoutError:
            self.job_touch(tag)
            return f"caught JobTimeoutError after {time.monotonic() - started:.2f}s"
        return "no time limit reached"

    def job_pg_sleep(self, seconds, tag="pg_sleep"):
        """Record a run, then wait in one SQL statement that names the job (for pg_stat_activity)"""
        self.job_touch(tag)
        self.env.cr.execute(
            "SELECT pg_sleep(%s), %s::text AS job_uuid",
            (seconds, self.env.context.get("job_uuid")),
            log_exceptions=False,
        )
        return "slept"

    def job_until_cancelled(self, seconds, tag="cancellable"):
        """Record a run, then work; when JobCancelledError comes, say so in a transaction of its own"""
        self.job_touch(tag)
        try:
            _work(seconds)
        except JobCancelledError:
            self._commit_effect(f"{tag}: interrupted")
            raise
        return "not cancelled"

    def job_check_cancelled(self, seconds, tag="checks"):
        """Record a run, then work in short steps, asking after each one whether the job was cancelled"""
        self.job_touch(tag)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                time.sleep(0.02)
            except JobCancelledError:
                pass  # the watchdog's interrupt: this job relies on its own checks
            if job_cancel_requested():
                self._commit_effect(f"{tag}: noticed")
                check_job_cancelled()
        return "not cancelled"

    def _commit_effect(self, tag):
        """An effect committed at once, whatever becomes of the job's own transaction"""
        with self.env.registry.cursor() as cr:
            self.env(cr=cr)["queue.job.probe.effect"].create(
                {"probe_id": self.id, "tag": tag, "job_uuid": self.env.context.get("job_uuid")}
            )

    def job_fail(self, message="probe failure"):
        raise UserError(message)

    def job_fail_hard(self, message="give up"):
        raise FailedJobError(message)

    def job_retry_until(self, tries_needed, tag="retry"):
        """Fail with a retryable error until the job's try count reaches tries_needed"""
        job = self.env["queue.job"].search([("uuid", "=", self.env.context.get("job_uuid"))])
        if job.retry < tries_needed:
            raise RetryableJobError(f"not yet ({job.retry}/{tries_needed})", seconds=1)
        return self.job_touch(tag)

    def job_kill_worker(self):
        """Kill the process running this job, as an out-of-memory kill would: never ends"""
        os.kill(os.getpid(), signal.SIGKILL)

    def job_burn_cpu(self, seconds, tag="cpu"):
        """Record a run first, then keep a CPU busy (Odoo's limit_time_cpu applies)"""
        self._commit_effect(f"{tag}: started")
        deadline = time.monotonic() + seconds
        total = 0
        while time.monotonic() < deadline:
            total += sum(range(10_000))
        return "burnt"

    def job_allocate(self, megabytes, tag="memory"):
        """Record a run first, then ask for that much memory at once (Odoo's limit_memory_hard applies)"""
        self._commit_effect(f"{tag}: started")
        block = bytearray(megabytes * 1024 * 1024)
        return f"allocated {len(block) // (1024 * 1024)} MiB"

    def job_args_echo(self, *args, **kwargs):
        """Return a description of the arguments received"""
        return repr((args, sorted(kwargs.items())))

    # -- what user code does -------------------------------------------------

    def enqueue_touch(self, **options):
        return self.with_delay(**options).job_touch()

    LIMITS_METHODS = (
        "job_touch", "job_sleep", "job_stubborn", "job_catch_timeout", "job_pg_sleep",
        "job_until_cancelled", "job_check_cancelled", "job_burn_cpu", "job_allocate",
    )  # fmt: skip

    def enqueue_method(self, method, args=(), **options):
        """Enqueue ``method(*args)`` of this probe with these with_delay() options; returns the job's uuid"""
        if method not in self.LIMITS_METHODS:
            raise UserError(f"enqueue_method runs only {', '.join(self.LIMITS_METHODS)}")
        return getattr(self.with_delay(**options), method)(*args).uuid

    def enqueue_unique(self):
        return self.with_delay(identity_key=identity_exact).job_touch("unique")

    CHAOS_METHODS = ("job_touch", "job_sleep", "job_fail", "job_retry_until", "job_kill_worker")

    @api.model
    def enqueue_chaos(self, plan, name="chaos"):
        """Enqueue one job per [method, args, channel] of ``plan``, each on a probe of its own
        (so that no two jobs write the same row), in one transaction; returns their uuids"""
        if any(method not in self.CHAOS_METHODS for method, _args, _channel in plan):
            raise UserError(f"enqueue_chaos runs only {', '.join(self.CHAOS_METHODS)}")
        probes = self.create([{"name": f"{name} {n}"} for n in range(len(plan))])
        return [
            getattr(probe.with_delay(channel=channel or None), method)(*args).uuid
            for probe, (method, args, channel) in zip(probes, plan)
        ]

    def enqueue_graph(self):
        """A chain of a group and two steps, built with delayable()"""
        first = group(self.delayable().job_touch("g1"), self.delayable().job_touch("g2"))
        chain(first, self.delayable(priority=5).job_touch("c1"), self.delayable().job_touch("c2")).delay()

    def related_action_probe(self, name=None):
        self.ensure_one()
        return {"type": "ir.actions.act_window", "res_model": "queue.job.probe", "res_id": self.id, "name": name}

    @api.model
    def _job_prepare_context_before_enqueue_keys(self):
        return super()._job_prepare_context_before_enqueue_keys() + ("probe_marker",)


class QueueJobProbeEffect(models.Model):
    _name = "queue.job.probe.effect"
    _description = "One committed run of a probe job"

    probe_id = fields.Many2one("queue.job.probe", required=True, ondelete="cascade")
    tag = fields.Char()
    job_uuid = fields.Char(index=True)


class QueueJob(models.Model):
    _inherit = "queue.job"

    def related_action_probe_record(self, name=None):
        """Related action configured on a job function: opens the probe"""
        return self.records.related_action_probe(name=name)
