{
    "name": "Job Queue Monitor",
    "summary": "Dashboard, trends, alert rules, Prometheus metrics and health check for queue_job",
    "version": "18.0.1.1.0",
    "author": "queue_job contributors",
    "license": "LGPL-3",
    "category": "Generic Modules",
    "depends": ["queue_job", "mail"],
    "data": [
        "security/ir.model.access.csv",
        "data/queue_job_monitor_cron.xml",
        "data/queue_job_alert_rule_data.xml",
        "views/queue_job_metric_views.xml",
        "views/queue_job_alert_rule_views.xml",
        "wizards/queue_job_bulk_action_views.xml",
        "views/queue_job_monitor_menus.xml",
    ],
    "assets": {
        "web.assets_backend": [
            "queue_job_monitor/static/src/dashboard/*",
        ],
        "web.assets_tests": [
            "queue_job_monitor/static/tests/tours/*",
        ],
    },
    "installable": True,
    "uninstall_hook": "uninstall_hook",
}
