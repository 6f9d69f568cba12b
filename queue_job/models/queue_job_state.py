import json

from odoo import _, exceptions, fields, models

from ..engine import sql
from ..engine.codec import UndecodableValue
from ..engine.states import (
    CANCELLED,
    DONE,
    FAILED,
    PENDING,
    STARTED,
    WAIT_DEPENDENCIES,
    InvalidStateTransition,
    check_transition,
)
from ..job import Job


class QueueJob(models.Model):
    """State changes asked by people (buttons, API), and what they wake or cancel down the graph."""

    _inherit = "queue.job"

    def _change_job_state(self, state, result=None):
        """Requeue, finish or cancel jobs; the only door for people to change a state."""
        # Jobs are stored as superuser below: check the caller may change them at all.
        self.check_access("write")
        for record in self:
            try:
                job_ = Job.load(record.env, record.uuid)
            except (UndecodableValue, AttributeError) as exc:
                record._change_unloadable_job_state(state, result, exc)
                continue
            was_failed = job_.state == FAILED
            try:
                if state == DONE:
                    check_transition(job_.state, DONE, job_.uuid)
                    job_.set_done(result=result)
                elif state == PENDING:
                    target = WAIT_DEPENDENCIES if any(j.state != DONE for j in job_.depends_on) else PENDING
                    check_transition(job_.state, target, job_.uuid)
                    if job_.state == STARTED:
                        raise exceptions.UserError(
                            _("Job %s is running; it cannot be requeued until it ends.", job_.uuid)
                        )
                    job_.set_pending(result=result)
                elif state == CANCELLED:
                    check_transition(job_.state, CANCELLED, job_.uuid)
                    job_.set_cancelled(result=result)
                else:
                    raise ValueError(f"state not supported: {state}")
            except InvalidStateTransition as exc:
                raise exceptions.UserError(str(exc)) from exc
            if job_.state in (PENDING, WAIT_DEPENDENCIES) and job_.identity_key:
                twin = job_.job_record_with_same_identity_key() - record
                if twin:
                    raise exceptions.UserError(
                        _("Job %(job)s cannot be requeued: job %(twin)s with the same identity key is already waiting.",
                          job=job_.uuid, twin=twin[0].uuid)
                    )
            job_.store()
            record.flush_recordset()
            if was_failed and state in (DONE, PENDING):
                record._job_revive_dependants()
            if state == DONE:
                job_.enqueue_waiting()
            elif state == CANCELLED:
                job_.cancel_dependent_jobs()

    def _change_unloadable_job_state(self, state, result, reason):
        """Finish or cancel a job whose code or arguments are gone; requeuing it is refused."""
        self.ensure_one()
        if state == PENDING:
            raise exceptions.UserError(_("Job %(job)s cannot be requeued: %(reason)s", job=self.uuid, reason=reason))
        try:
            check_transition(self.state, state, self.uuid)
        except InvalidStateTransition as exc:
            raise exceptions.UserError(str(exc)) from exc
        vals = {"state": state, "result": result or False}
        if state == DONE:
            vals.update(date_done=fields.Datetime.now(), exc_name=False, exc_message=False, exc_info=False)
        else:
            vals.update(date_cancelled=fields.Datetime.now())
        self.sudo().with_context(_job_edit_sentinel=self.EDIT_SENTINEL).write(vals)
        self.flush_recordset()
        if state == DONE:
            self._job_wake_children(self.uuid)
        else:
            self._job_cancel_children(self.uuid)

    def button_done(self):
        self._change_job_state(DONE, result=_("Manually set to done by %s", self.env.user.name))
        return True

    def button_cancelled(self):
        self._change_job_state(CANCELLED, result=_("Cancelled by %s", self.env.user.name))
        return True

    def requeue(self):
        self.filtered(lambda job: job.state != WAIT_DEPENDENCIES)._change_job_state(PENDING)
        return True

    def _job_wake_children(self, job_uuid):
        parent = self.sudo().search([("uuid", "=", job_uuid)], limit=1)
        children = (parent.dependencies or {}).get("reverse_depends_on") or []
        if not parent.graph_uuid or not children:
            return
        self.flush_model()
        self.env.cr.execute(
            sql.LOCK_CHILDREN,
            {"graph_uuid": parent.graph_uuid, "children": json.dumps(children)},
        )
        ids = [row[0] for row in self.env.cr.fetchall()]
        if ids:
            self.env.cr.execute(sql.WAKE_CHILDREN, {"ids": ids})
        self.invalidate_model(["state"])

    def _job_cancel_children(self, job_uuid, reason=None):
        """Cancel the jobs waiting for this one, directly or not; the uuids cancelled."""
        parent = self.sudo().search([("uuid", "=", job_uuid)], limit=1)
        if not parent.graph_uuid:
            return []
        self.flush_model()
        self.env.cr.execute(
            sql.CANCEL_CHILDREN,
            {"id": parent.id, "graph_uuid": parent.graph_uuid, "result": reason or _("Cancelled with job %s", job_uuid)},
        )
        cancelled = [row[0] for row in self.env.cr.fetchall()]
        self.invalidate_model(["state", "date_cancelled", "result"])
        return cancelled
