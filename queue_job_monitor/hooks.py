from . import sql


def uninstall_hook(env):
    """The counting triggers and tables are not ORM models: remove them by hand."""
    env.cr.execute(sql.DROP_COUNT_TRIGGERS)
    env.cr.execute(
        "DROP TABLE IF EXISTS queue_job_monitor_delta, queue_job_monitor_count_minute, queue_job_monitor_count_hour,"
        " queue_job_monitor_total"
    )
    env.cr.execute("DROP INDEX IF EXISTS queue_job_monitor_done_idx")
