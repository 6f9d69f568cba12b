"""-u queue_job from OCA's queue_job, once every module is loaded: report the
jobs still to run whose method or arguments this queue_job cannot load (a
model or method removed, a value it does not decode). They are left as they
are; they would fail with the same reason when run."""

import logging

from odoo import SUPERUSER_ID, api

from odoo.addons.queue_job.job import Job

_logger = logging.getLogger("odoo.addons.queue_job.migrations")

CHECK_AT_MOST = 20000


def migrate(cr, version):
    if not version:
        return
    env = api.Environment(cr, SUPERUSER_ID, {})
    cr.execute(
        "SELECT uuid FROM queue_job WHERE state IN ('wait_dependencies', 'pending', 'enqueued', 'failed')"
        " ORDER BY id LIMIT %s",
        (CHECK_AT_MOST + 1,),
    )
    uuids = [uuid for (uuid,) in cr.fetchall()]
    if len(uuids) > CHECK_AT_MOST:
        _logger.info("queue_job: only the first %d jobs to run were checked for loading", CHECK_AT_MOST)
    unloadable = 0
    for uuid in uuids[:CHECK_AT_MOST]:
        try:
            Job.load(env, uuid)
        except Exception as exc:  # noqa: BLE001 - any reason is reported, the job is left alone
            unloadable += 1
            _logger.warning("queue_job: job %s cannot be loaded by this queue_job: %s", uuid, exc)
    env.invalidate_all()
    _logger.info("queue_job: moved from an older queue_job; %d of %d jobs to run checked cannot be loaded",
                 unloadable, min(len(uuids), CHECK_AT_MOST))
