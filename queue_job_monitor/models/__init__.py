from . import queue_job_alert_rule, queue_job_metric, queue_job_monitor
