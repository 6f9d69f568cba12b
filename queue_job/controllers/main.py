import json
import logging

from werkzeug.exceptions import BadRequest, Forbidden

from odoo import _, http
from odoo.modules.registry import Registry

from ..databases import may_serve
from ..delay import chain, group
from ..engine import signing, sql
from ..executor import SlotRunner

_logger = logging.getLogger(__name__)

_secrets = {}  # db name -> database.secret, per worker process

MAX_BUDGET = 10.0  # seconds a slot may keep a worker, whatever the request says
MAX_JOBS_PER_SLOT = 1000


def _database_secret(registry):
    secret = _secrets.get(registry.db_name)
    if secret is None:
        with registry.cursor() as cr:
            cr.execute(sql.DATABASE_SECRET)
            row = cr.fetchone()
        secret = _secrets[registry.db_name] = row[0] if row else ""
    return secret


def _check_signature(registry, db, job_uuid, channels, params):
    try:
        signing.verify(
            _database_secret(registry), db, job_uuid, channels, params.get("ts", ""), params.get("sig", "")
        )
    except signing.BadSignature as exc:
        _secrets.pop(db, None)  # the secret may have been rotated: read it again next time
        _logger.warning("refused to run job %s on %s: %s", job_uuid, db, exc)
        raise Forbidden("This request was not signed by the jobrunner.") from None


class RunJobController(http.Controller):
    @http.route(
        "/queue_job/runjob",
        type="http",
        auth="none",
        methods=["GET", "POST"],
        csrf=False,
        save_session=False,
    )
    def runjob(self, db=None, job_uuid=None, **params):
        """Run a job the runner claimed, then (within the slot's budget) more of its channels."""
        if not db or not job_uuid:
            raise BadRequest("db and job_uuid are required")
        if not may_serve(db):
            raise BadRequest(f"database {db!r} is not served here")
        registry = Registry(db)
        channels = params.get("channels", "")
        _check_signature(registry, db, job_uuid, channels, params)
        try:
            budget = min(float(params.get("budget", 0) or 0), MAX_BUDGET)
            max_jobs = min(int(params.get("max_jobs", 1) or 1), MAX_JOBS_PER_SLOT)
        except ValueError:
            raise BadRequest("budget and max_jobs must be numbers") from None
        runner = SlotRunner(registry, [c for c in channels.split(",") if c], budget, max_jobs)
        outcomes = runner.run(job_uuid)
        body = json.dumps({"jobs": [[o.uuid, o.state, round(o.seconds, 4)] for o in outcomes]})
        return http.Response(body, content_type="application/json")

    @http.route("/queue_job/create_test_job", type="http", auth="user")
    def create_test_job(
        self, priority=None, max_retries=None, channel=None, description="Test job", size=1, failure_rate=0
    ):
        """Enqueue test jobs (a graph when size > 1), for administrators trying the queue."""
        if not http.request.env.user.has_group("base.group_erp_manager"):
            raise Forbidden(_("Access Denied"))
        try:
            failure_rate = float(failure_rate or 0)
            size = int(size or 1)
            priority = int(priority) if priority not in (None, "") else None
            max_retries = int(max_retries) if max_retries not in (None, "") else None
        except ValueError:
            raise BadRequest("priority, max_retries and size must be whole numbers, failure_rate a number") from None
        if not 0 <= failure_rate <= 1:
            raise BadRequest("failure_rate must be between 0 and 1")
        if not 1 <= size <= 10000:
            raise BadRequest("size must be between 1 and 10000")
        model = http.request.env["queue.job"]
        options = dict(priority=priority, max_retries=max_retries, channel=channel)
        if size == 1:
            job = model.with_delay(description=description, **options)._test_job(failure_rate=failure_rate)
            return f"job uuid: {job.uuid}"
        delayables = [
            model.delayable(description=f"{description} #{n}", **options)._test_job(failure_rate=failure_rate)
            for n in range(1, size + 1)
        ]
        # A small graph: a group of the first half, then a chain of the rest.
        half = max(1, size // 2)
        head = group(*delayables[:half])
        if delayables[half:]:
            head.on_done(chain(*delayables[half:]))
        head.delay()
        return f"graph uuid: {delayables[0]._generated_job.graph_uuid}"
