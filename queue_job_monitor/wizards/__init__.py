from . import queue_job_bulk_action
