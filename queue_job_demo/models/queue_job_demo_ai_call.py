"""Use case 4: a slow AI/LLM-like HTTP call, on a channel of its own.

The channel ``root.demo.ai`` runs one call at a time (capacity 1 in
odoo.conf), so a burst of questions never floods the model's API nor takes
every worker. The job function sets the soft and hard time limits and the
backoff between tries: a rate limit (HTTP 429, honouring Retry-After), a
server error (5xx), a timeout or a refused connection raise
RetryableJobError and the job is tried again later; any other answer the
model cannot serve fails the job with the reason. The endpoint is a setting
only administrators may change (Settings > Job Queue Demo).
"""

import requests

from odoo import _, fields, models
from odoo.exceptions import UserError

from odoo.addons.queue_job.exception import FailedJobError, RetryableJobError

from odoo.addons.queue_job.progress import notify_progress

ENDPOINT_PARAM = "queue_job_demo.ai_endpoint"
DEFAULT_ENDPOINT = "http://127.0.0.1:8765/v1/complete"
READ_TIMEOUT_PARAM = "queue_job_demo.ai_read_timeout"
DEFAULT_READ_TIMEOUT = 50  # seconds, under the job function's 60 s soft limit


class QueueJobDemoAiCall(models.Model):
    _name = "queue.job.demo.ai.call"
    _inherit = "queue.job.demo.mixin"
    _description = "Job Queue Demo: slow AI call"

    prompt = fields.Text(required=True, default="Summarise the benefits of background jobs in three sentences.")
    answer = fields.Text(readonly=True, copy=False)
    endpoint = fields.Char(compute="_compute_endpoint", help="Set by an administrator in Settings > Job Queue Demo.")
    tries = fields.Integer(related="job_id.retry", string="Tries")
    next_try = fields.Datetime(related="job_id.eta", string="Next try")

    def _compute_endpoint(self):
        self.endpoint = self._endpoint()

    def _endpoint(self) -> str:
        return self.env["ir.config_parameter"].sudo().get_param(ENDPOINT_PARAM) or DEFAULT_ENDPOINT

    def action_start(self):
        for record in self:
            record.write({"date_finished": False, "summary": False, "answer": False})
            job = record.with_delay(
                notify=True, max_retries=6, description=_("Ask the model: %s", record.name)
            ).ask_model()
            record._follow_job(job)
        return True

    def ask_model(self) -> str:
        """The job: one HTTP call; retried later when the model is busy or down."""
        self.ensure_one()
        url = self._endpoint()
        read_timeout = int(self.env["ir.config_parameter"].sudo().get_param(READ_TIMEOUT_PARAM) or DEFAULT_READ_TIMEOUT)
        notify_progress(0, total=1, message=_("Waiting for the model"))
        try:
            response = requests.post(url, json={"prompt": self.prompt}, timeout=(5, read_timeout))
        except requests.Timeout:
            raise RetryableJobError(_("The model did not answer within %d s.", read_timeout)) from None
        except requests.ConnectionError:
            raise RetryableJobError(_("The model's endpoint %s cannot be reached.", url)) from None
        except requests.RequestException as exc:
            raise FailedJobError(_("The endpoint %(url)s is not usable: %(error)s", url=url, error=exc)) from None
        if response.status_code == 429:
            retry_after = response.headers.get("Retry-After", "")
            raise RetryableJobError(
                _("The model is rate limited (HTTP 429)."),
                seconds=int(retry_after) if retry_after.isdigit() else None,
            )
        if response.status_code >= 500:
            raise RetryableJobError(_("The model's server failed (HTTP %d).", response.status_code))
        if response.status_code != 200:
            raise FailedJobError(_("The model refused the question (HTTP %(status)d): %(body)s",
                                   status=response.status_code, body=response.text[:200]))
        try:
            answer = response.json()["completion"]
        except (ValueError, KeyError, TypeError):
            raise FailedJobError(
                _("The model's answer is not JSON with a \"completion\": %s", response.text[:200])
            ) from None
        self.answer = answer
        self._mark_finished(_("Answered in %d characters.", len(answer)))
        return answer


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    queue_job_demo_ai_endpoint = fields.Char(
        string="AI endpoint",
        config_parameter=ENDPOINT_PARAM,
        default=DEFAULT_ENDPOINT,
        help="URL the demo's AI calls POST to, e.g. the stub server's http://127.0.0.1:8765/v1/complete",
    )

    def set_values(self):
        endpoint = self.queue_job_demo_ai_endpoint or ""
        if endpoint and not endpoint.startswith(("http://", "https://")):
            raise UserError(_("The AI endpoint must be an http:// or https:// URL, not %r.", endpoint))
        return super().set_values()
