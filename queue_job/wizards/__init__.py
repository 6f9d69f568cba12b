from . import queue_requeue_job
from . import queue_jobs_to_done
from . import queue_jobs_to_cancelled
