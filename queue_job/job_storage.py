"""How a Job is read from its ``queue.job`` row and written back to it."""

from . import fields as job_fields
from .engine.states import ENQUEUED, PENDING, WAIT_DEPENDENCIES
from .exception import NoSuchJobError


class JobStorage:
    """Loading, inserting and updating the row of a Job (a part of ``Job``)."""

    # -- reading -----------------------------------------------------------

    @classmethod
    def load(cls, env, job_uuid):
        """The job with this uuid; NoSuchJobError if there is none."""
        record = cls.db_records_from_uuids(env, [job_uuid])
        if not record:
            raise NoSuchJobError(f"Job {job_uuid} does not exist (any more).")
        return cls._load_from_db_record(record)

    @classmethod
    def load_many(cls, env, job_uuids):
        """The jobs with these uuids; unknown uuids are skipped."""
        return {cls._load_from_db_record(record) for record in cls.db_records_from_uuids(env, job_uuids)}

    @staticmethod
    def db_records_from_uuids(env, job_uuids):
        model = env["queue.job"].sudo()
        return model.search([("uuid", "in", tuple(job_uuids))]).with_env(env).sudo()

    @classmethod
    def _load_from_db_record(cls, record):
        recordset = record.records
        if not callable(getattr(type(recordset), record.method_name or "", None)):
            raise AttributeError(
                f"{record.model_name} has no method {record.method_name!r} (any more)"
            )
        job_ = cls(
            getattr(recordset, record.method_name),
            args=record.args,
            kwargs=record.kwargs,
            priority=record.priority,
            eta=record.eta or None,
            job_uuid=record.uuid,
            description=record.name,
            channel=record.channel,
            identity_key=record.identity_key,
        )
        # As stored: a loaded job never evaluates its function's key expression again.
        job_._concurrency_key_value = record.concurrency_key or None
        job_._concurrency_key_done = True
        job_.concurrency_limit = record.concurrency_limit or 0
        job_.timeout = record.timeout
        job_.hard_timeout = record.hard_timeout
        for name in ("date_created", "date_enqueued", "date_started", "date_done", "date_cancelled"):
            setattr(job_, name, record[name] or None)
        job_._stored = True
        job_.state = record.state
        job_.graph_uuid = record.graph_uuid or None
        job_.result = record.result or None
        job_.exc_name = record.exc_name or None
        job_.exc_message = record.exc_message or None
        job_.exc_info = record.exc_info or None
        job_.retry = record.retry
        job_.max_retries = record.max_retries
        job_.company_id = record.company_id.id or None
        job_.worker_pid = record.worker_pid or None
        job_._load_dependencies(record.dependencies or {})
        return job_

    # -- writing -----------------------------------------------------------

    def db_record(self):
        return self.db_records_from_uuids(self.env, [self.uuid])

    def job_record_with_same_identity_key(self):
        """The waiting job with the same identity key, if any."""
        return (
            self.env["queue.job"]
            .sudo()
            .search(
                [
                    ("identity_key", "=", self.identity_key),
                    ("state", "in", [WAIT_DEPENDENCIES, PENDING, ENQUEUED]),
                ],
                limit=1,
            )
        )

    def _store_values(self, create=False):
        vals = {
            "state": self.state,
            "priority": self.priority,
            "retry": self.retry,
            "max_retries": self.max_retries,
            "exc_name": self.exc_name or False,
            "exc_message": self.exc_message or False,
            "exc_info": self.exc_info or False,
            "company_id": self.company_id or False,
            "result": str(self.result) if self.result else False,
            "date_enqueued": self.date_enqueued or False,
            "date_started": self.date_started or False,
            "date_done": self.date_done or False,
            "exec_time": self.exec_time or False,
            "date_cancelled": self.date_cancelled or False,
            "eta": self.eta or False,
            "identity_key": self.identity_key or False,
            "worker_pid": self.worker_pid or False,
            "graph_uuid": self.graph_uuid or False,
            "timeout": self.timeout or 0,
            "hard_timeout": self.hard_timeout or 0,
            "dependencies": self._dependencies_value(),
        }
        if self.result_attachment:
            vals["result_attachment_id"] = self.result_attachment.id
        if create:
            batch = self.env.context.get("job_batch")
            if batch:
                batch_id = self.env["queue.job.batch"]._job_batch_id_to_join(batch)
                if batch_id:
                    vals["job_batch_id"] = batch_id
            vals.update(
                {
                    "user_id": self.env.uid,
                    "channel": self.channel,
                    "uuid": self.uuid,
                    "name": self.description,
                    "func_string": self.func_string,
                    "date_created": self.date_created,
                    "model_name": self.recordset._name,
                    "method_name": self.method_name,
                    "job_function_id": self.job_config.job_function_id,
                    "channel_method_name": self.job_function_name,
                    "records": self.recordset,
                    "args": self.args,
                    # Encoded here, not left to the field: a kwargs dict
                    # shaped like a stored object ({"_type": ...}) would be
                    # taken as already encoded and read back as that object
                    # (e.g. a superuser recordset). Encoding refuses it.
                    "kwargs": job_fields.to_jsonable(self.kwargs, "kwargs"),
                    "notify": self.notify,
                    "record_refs": job_fields.record_refs(self.recordset, self.args, self.kwargs),
                }
            )
            if self.concurrency_key:
                vals["concurrency_key"] = self.concurrency_key
                vals["concurrency_limit"] = self.concurrency_limit
        # Hooks on the delayed model may add values, never override ours.
        extra = self._store_values_from_model()
        vals.update({key: value for key, value in extra.items() if key not in vals})
        return vals

    def _store_values_from_model(self):
        vals = {}
        for hook in (f"_job_store_values_for_{self.method_name}", "_job_store_values"):
            handler = getattr(self.recordset, hook, None)
            if handler is not None:
                vals = handler(self)
        return vals

    def store(self):
        """Save the job: insert it when new, update it otherwise.

        Returns the stored job: for a new job whose identity key matches a
        job already waiting, that one.
        """
        model = self.env["queue.job"]
        if self._stored:
            record = self.db_record()
            record.with_context(_job_edit_sentinel=model.EDIT_SENTINEL).write(self._store_values())
            return self
        stored = model._job_insert([self])[0]
        self._stored = True
        return stored
