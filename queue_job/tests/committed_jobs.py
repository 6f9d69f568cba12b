"""Running committed jobs with the worker's own code, for tests of what a running job does.

``SlotRunner.run()`` runs a job as a ``/queue_job/runjob`` request does: in a
transaction of its own, watched by the watchdog. That needs committed rows,
so these tests commit (no jobrunner runs during the tests) and delete what
they committed. The job's code is a method patched onto ``res.partner`` for
the duration of a test.
"""

from contextlib import contextmanager
from unittest import mock

from odoo import SUPERUSER_ID, api
from odoo.addons.queue_job.engine import sql
from odoo.addons.queue_job.executor import SlotRunner
from odoo.modules.registry import Registry
from odoo.tests.common import BaseCase, get_db_name

JOB_METHOD = "_queue_job_test_follow"


class CommittedJobsCase(BaseCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.registry = Registry(get_db_name())

    def setUp(self):
        super().setUp()
        self.uuids = []
        self.partner_ids = []
        self.attachment_ids = []
        self.addCleanup(self._delete_committed)

    @contextmanager
    def committed_env(self, uid=SUPERUSER_ID):
        with self.registry.cursor() as cr:  # commits on exit
            yield api.Environment(cr, uid, {})

    def _delete_committed(self):
        with self.committed_env() as env:
            env["queue.job"].search([("uuid", "in", self.uuids)]).unlink()
            env["ir.attachment"].browse(self.attachment_ids).exists().unlink()
            env["res.partner"].browse(self.partner_ids).exists().unlink()

    def job_code(self, function):
        """Make ``function(partner, *args)`` the code of the jobs enqueued by ``enqueue``."""
        function.__name__ = JOB_METHOD  # a job stores the name of its method
        patcher = mock.patch.object(
            self.registry["res.partner"], JOB_METHOD, function, create=True
        )
        patcher.start()
        self.addCleanup(patcher.stop)

    def enqueue(self, *args, uid=SUPERUSER_ID, **options):
        """Commit a partner and a job running the job code on it; return (uuid, partner id)."""
        with self.committed_env(uid) as env:
            partner = env["res.partner"].sudo().create({"name": f"follow {len(self.partner_ids)}"}).with_env(env)
            options.setdefault("channel", f"root.follow.{self._testMethodName}")
            uuid = getattr(partner.with_delay(**options), JOB_METHOD)(*args).uuid
        self.uuids.append(uuid)
        self.partner_ids.append(partner.id)
        return uuid, partner.id

    def run_job(self, uuid):
        """Claim the job as the runner does, then run it in a worker slot; its outcome state."""
        with self.committed_env() as env:
            env.cr.execute("SELECT id FROM queue_job WHERE uuid = %s", (uuid,))
            env.cr.execute(sql.MARK_ENQUEUED, {"ids": [env.cr.fetchone()[0]]})
            self.assertEqual(env.cr.rowcount, 1, "the job was not pending")
        outcomes = SlotRunner(self.registry, (), budget=30.0, max_jobs=1).run(uuid)
        self.assertEqual(len(outcomes), 1)
        return outcomes[0].state

    def row(self, uuid, columns="*"):
        with self.committed_env() as env:
            env.cr.execute(f"SELECT {columns} FROM queue_job WHERE uuid = %s", (uuid,))
            names = [column.name for column in env.cr.description]
            values = env.cr.fetchone()
            return dict(zip(names, values)) if values else None

    def progress_of(self, uuid):
        """(done, total, message) as written for the job, or None."""
        with self.committed_env() as env:
            env.cr.execute(
                """SELECT p.done, p.total, p.message FROM queue_job_progress p
                     JOIN queue_job q ON q.id = p.job_id WHERE q.uuid = %s""",
                (uuid,),
            )
            return env.cr.fetchone()
