"""-u queue_job from OCA's queue_job, after the schema update: children of a
graph whose parents are all done (OCA stopped before waking them) become
pending."""

import logging

from odoo.addons.queue_job.engine import sql

_logger = logging.getLogger("odoo.addons.queue_job.migrations")


def migrate(cr, version):
    if not version:
        return
    while True:
        cr.execute(sql.WAKE_READY_CHILDREN)
        woken = [uuid for (uuid,) in cr.fetchall()]
        if not woken:
            break
        for uuid in woken:
            _logger.info("queue_job: job %s waited for parents that are all done: now pending", uuid)
