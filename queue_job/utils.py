"""Small helpers shared by the ORM side."""

import logging
import os

_logger = logging.getLogger(__name__)

NO_DELAY_CONTEXT_KEYS = ("queue_job__no_delay", "test_queue_job_no_delay")


def must_run_without_delay(env):
    """True when jobs must run at once, in the caller's transaction.

    Set by the ``QUEUE_JOB__NO_DELAY`` environment variable, or by either
    context key ``queue_job__no_delay`` or ``test_queue_job_no_delay`` (the
    older name, still used by many addons' tests).
    """
    if os.getenv("QUEUE_JOB__NO_DELAY"):
        _logger.warning("QUEUE_JOB__NO_DELAY is set: jobs run synchronously, none is stored")
        return True
    for key in NO_DELAY_CONTEXT_KEYS:
        if env.context.get(key):
            _logger.info("context key %s is set: the job runs synchronously", key)
            return True
    return False
