"""Use case 3: a workflow of jobs, with ``chain`` and ``group``.

    import contacts  ->  check emails  \\
                         check phones   > ->  summary
                         check names   /

The three checks run in parallel once the import is done; the summary runs
when all three are. A step that fails stops what depends on it: the page
shows the failed step, its "Related" button leads back here, and once the
cause is fixed, "Retry failed steps" runs it again and the workflow goes on.
A step that raises RetryableJobError is tried again later, as its job
function's retry pattern says.
"""

from collections import Counter
from datetime import timedelta

from odoo import _, fields, models
from odoo.exceptions import UserError

from odoo.addons.queue_job.delay import chain, group
from odoo.addons.queue_job.exception import RetryableJobError

BUSY_SECONDS = 30


class QueueJobDemoWorkflow(models.Model):
    _name = "queue.job.demo.workflow"
    _inherit = "queue.job.demo.graph.mixin"
    _description = "Job Queue Demo: workflow of jobs"

    contact_count = fields.Integer(string="Contacts to import", default=50)
    failure_mode = fields.Selection(
        [
            ("none", "Every step succeeds"),
            ("busy", "The phone check is busy for 30 s (retried)"),
            ("broken", "The phone check fails (fix it, then retry)"),
        ],
        default="none",
        required=True,
    )
    busy_until = fields.Datetime(readonly=True, copy=False)
    partner_ids = fields.Many2many("res.partner", string="Imported contacts", readonly=True, copy=False)
    check_ids = fields.One2many("queue.job.demo.workflow.check", "workflow_id", string="Checks", readonly=True)
    def action_start(self):
        for record in self:
            record.partner_ids.unlink()
            record.check_ids.unlink()
            record.write({"date_finished": False, "summary": False,
                          "busy_until": fields.Datetime.now() + timedelta(seconds=BUSY_SECONDS)})
            first = record.delayable(description=_("Import contacts")).step_import()
            chain(
                first,
                group(
                    record.delayable(description=_("Check emails")).step_check("email"),
                    record.delayable(description=_("Check phones")).step_check("phone"),
                    record.delayable(description=_("Check names")).step_check("name"),
                ),
                record.delayable(description=_("Summary")).step_summary(),
            ).delay()
            # Every step shares the graph uuid of the first (none in no-delay mode).
            record.graph_uuid = getattr(first._generated_job, "graph_uuid", False)
        return True

    def action_retry_failed(self):
        """Run the failed steps again (after fixing their cause)."""
        for record in self:
            failed = record.step_job_ids.filtered(lambda job: job.state == "failed")
            if not failed:
                raise UserError(_("No step of %s has failed.", record.name))
            failed.sudo().requeue()
        return True

    def step_import(self) -> str:
        partners = self.env["res.partner"].create([
            {
                "name": f"Workflow {self.id} contact {n % (self.contact_count - 2 or 1)}",
                # one in ten has no usable email, one in seven no phone
                "email": False if n % 10 == 0 else f"wf{self.id}.{n}@example.com",
                "phone": False if n % 7 == 0 else f"+32 2 555 {n:04d}",
            }
            for n in range(self.contact_count)
        ])
        self.partner_ids = partners
        return _("%d contacts imported", len(partners))

    def step_check(self, field: str) -> str:
        if field == "phone" and self.failure_mode == "busy" and fields.Datetime.now() < self.busy_until:
            raise RetryableJobError(_("The phone directory is busy, trying again later."))
        if field == "phone" and self.failure_mode == "broken":
            raise UserError(_("The phone directory refused the check. Set the failure mode to "
                              "\"Every step succeeds\" and click \"Retry failed steps\"."))
        if field == "name":
            counts = Counter(self.partner_ids.mapped("name"))
            problems = sum(count for count in counts.values() if count > 1)
            label = _("contacts share their name with another")
        else:
            problems = len(self.partner_ids.filtered(lambda partner: not partner[field]))
            label = _("contacts have no %s", field)
        self.env["queue.job.demo.workflow.check"].create({
            "workflow_id": self.id, "name": field, "problem_count": problems, "description": f"{problems} {label}",
        })
        return f"{problems} {label}"

    def step_summary(self) -> str:
        problems = sum(self.check_ids.mapped("problem_count"))
        summary = _("%(contacts)d contacts imported and checked: %(problems)d problems (%(details)s).",
                    contacts=len(self.partner_ids), problems=problems,
                    details="; ".join(self.check_ids.sorted("name").mapped("description")))
        self._mark_finished(summary)
        return summary


class QueueJobDemoWorkflowCheck(models.Model):
    _name = "queue.job.demo.workflow.check"
    _description = "Job Queue Demo: result of one workflow check"
    _order = "name"

    workflow_id = fields.Many2one("queue.job.demo.workflow", required=True, ondelete="cascade")
    name = fields.Char(string="Check", required=True)
    problem_count = fields.Integer(string="Problems")
    description = fields.Char()
