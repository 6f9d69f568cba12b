import psycopg2.errors
from odoo import _, api, exceptions, models, tools

from .. import insert_buffer
from ..engine import sql
from ..engine.states import ENQUEUED, PENDING, WAIT_DEPENDENCIES
from ..job import Job
from .queue_job import QUIET_CONTEXT


class QueueJob(models.Model):
    """How new Jobs become rows: one plain INSERT (buffered) where the ORM adds nothing, else the ORM."""

    _inherit = "queue.job"

    @api.model
    def _job_insert(self, jobs):
        """Store new jobs; return the stored Jobs.

        A single job whose identity key matches a job waiting to run is not
        stored: the waiting one is returned instead. The check is made by a
        unique index, so two transactions enqueuing the same key at once
        cannot both succeed: the second one waits for the first, then gets
        the waiting job, or, under Odoo's REPEATABLE READ, a serialization
        failure on which Odoo retries the request (which then finds it).
        """
        vals_list = [job._store_values(create=True) for job in jobs]
        columns = self._job_plain_columns(vals_list)
        if "job_batch_id" in vals_list[0]:
            # Rows inserted without the ORM: a batch's job list in the cache is
            # stale. Not invalidate_model(): it would flush (insert) the rows now.
            self.env.cache.invalidate([(self.env["queue.job.batch"]._fields["job_ids"], None)])
        if not any(vals.get("identity_key") for vals in vals_list):
            if columns:
                insert_buffer.buffer_rows(self.env.cr, columns, self._job_rows(columns, vals_list))
            else:
                self._job_orm_create(vals_list)
            return list(jobs)
        if len(jobs) == 1:
            existing = jobs[0].job_record_with_same_identity_key()
            if existing:
                return [Job._load_from_db_record(existing)]
        if columns:
            returned = insert_buffer.insert_rows(
                self.env.cr, columns, self._job_rows(columns, vals_list), suffix=sql.SKIP_WAITING_TWINS
            )
            stored = {uuid for (uuid,) in returned}
        else:
            stored = self._job_orm_create_unless_twins(vals_list)
        skipped = [job for job in jobs if job.uuid not in stored]
        if not skipped:
            return list(jobs)
        twins = [job.job_record_with_same_identity_key() for job in skipped]
        if len(jobs) == 1 and twins[0]:
            return [Job._load_from_db_record(twins[0])]
        raise exceptions.UserError(
            _(
                "Job %(job)s was not stored: a job with the same identity key is already waiting to run (%(twin)s).",
                job=skipped[0].uuid,
                twin=twins[0].uuid if twins[0] else self._job_committed_twin_uuid(skipped[0].identity_key),
            )
        )

    def _job_orm_create(self, vals_list):
        model = self.sudo().with_context(_job_edit_sentinel=self.EDIT_SENTINEL, **QUIET_CONTEXT)
        return model.create(vals_list)

    def _job_orm_create_unless_twins(self, vals_list):
        """ORM create of jobs with identity keys; the uuids stored (none when a twin waits)."""
        try:
            with self.env.cr.savepoint(flush=False), tools.mute_logger("odoo.sql_db"):
                records = self._job_orm_create(vals_list)
                records.flush_recordset()
        except psycopg2.errors.UniqueViolation:
            self.env.invalidate_all()
            return set()
        return {vals["uuid"] for vals in vals_list}

    def _job_committed_twin_uuid(self, identity_key):
        """The uuid of the waiting job with this key, as committed (this transaction's snapshot may not show it)."""
        with self.env.registry.cursor() as cr:
            cr.execute(
                "SELECT uuid FROM queue_job WHERE identity_key = %s AND state IN %s LIMIT 1",
                [identity_key, (WAIT_DEPENDENCIES, PENDING, ENQUEUED)],
            )
            row = cr.fetchone()
        return row[0] if row else "?"

    def _job_plain_columns(self, vals_list):
        """The columns of a plain INSERT of these rows, or None when the ORM must create them.

        The ORM's create() costs more than the job's whole insert; it is still
        used when another addon adds stored fields with defaults or computes
        to queue.job, or a ``_job_store_values`` hook returns other values.
        """
        columns = tuple(sorted(set().union(*vals_list)))
        return columns if self._job_plain_insert_allowed(columns) else None

    def _job_rows(self, columns, vals_list):
        fields_ = [self._fields[name] for name in columns]
        return [
            tuple(field.convert_to_column(vals.get(field.name, False), self, vals) for field in fields_)
            for vals in vals_list
        ]

    def _search(self, domain, offset=0, limit=None, order=None):
        insert_buffer.flush_rows(self.env.cr)
        return super()._search(domain, offset=offset, limit=limit, order=order)

    def flush_model(self, fnames=None):
        insert_buffer.flush_rows(self.env.cr)
        return super().flush_model(fnames)

    @tools.ormcache("columns")
    def _job_plain_insert_allowed(self, columns):
        given = set(columns)
        for name, field in self._fields.items():
            if name == "id" or not (field.store and field.column_type):
                if name in given:
                    return False  # a value for a non-stored field: the ORM knows what to do
                continue
            if name not in given and (field.default or field.compute or field.required):
                return False
        return True
