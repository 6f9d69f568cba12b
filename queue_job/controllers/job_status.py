import uuid as uuidlib

from werkzeug.exceptions import NotFound

from odoo import http
from odoo.http import request


class JobStatusController(http.Controller):
    @http.route("/queue_job/job/<string:job_uuid>", type="http", auth="public", methods=["GET"], readonly=True)
    def job_status(self, job_uuid: str):
        """A job's state, progress, result file and error as JSON, for a user allowed to read it.

        Anyone else gets 404 whether the job exists or not: a uuid says
        nothing about a job to someone who may not see it.
        """
        try:
            job_uuid = str(uuidlib.UUID(job_uuid))
        except ValueError:
            raise NotFound() from None
        if request.env.user._is_public():
            raise NotFound()
        job = request.env["queue.job"].search([("uuid", "=", job_uuid)], limit=1)
        if not job:
            raise NotFound()
        return request.make_json_response(job._job_status())
