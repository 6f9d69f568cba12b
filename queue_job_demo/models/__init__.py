from . import queue_job_demo_mixin
from . import queue_job_demo_import
from . import queue_job_demo_report
from . import queue_job_demo_workflow
from . import queue_job_demo_ai_call
from . import queue_job_demo_newsletter
from . import queue_job_demo_traffic
