{
    "name": "Job Queue Demo",
    "summary": "Use cases of queue_job, one page each: CSV import, PDF report, workflow, slow HTTP call, "
    "newsletter, traffic generator",
    "version": "18.0.1.0.0",
    "author": "queue_job contributors",
    "license": "LGPL-3",
    "category": "Tools",
    "depends": ["queue_job", "contacts", "mail"],
    "data": [
        "security/ir.model.access.csv",
        "data/queue_job_channel_data.xml",
        "data/queue_job_function_data.xml",
        "data/ir_cron_data.xml",
        "views/queue_job_demo_import_views.xml",
        "views/queue_job_demo_report_templates.xml",
        "views/queue_job_demo_report_views.xml",
        "views/queue_job_demo_workflow_views.xml",
        "views/queue_job_demo_ai_call_views.xml",
        "views/queue_job_demo_newsletter_views.xml",
        "views/queue_job_demo_traffic_views.xml",
        "views/res_config_settings_views.xml",
        "views/queue_job_demo_menus.xml",
    ],
    "demo": [
        "demo/queue_job_demo_demo.xml",
    ],
    "assets": {
        "web.assets_tests": [
            "queue_job_demo/static/src/tours/*.js",
        ],
    },
    "installable": True,
    "application": True,
}
