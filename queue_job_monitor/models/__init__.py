from . import queue_job_monitor
