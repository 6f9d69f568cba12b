{
    "name": "Job Queue",
    "summary": "Run methods in the background: PostgreSQL-native job queue with channels, retries and crash recovery",
    "version": "18.0.2.0.0",
    "author": "queue_job contributors",
    "license": "LGPL-3",
    "category": "Generic Modules",
    "depends": ["mail", "web"],
    "external_dependencies": {"python": []},
    "data": [
        "security/queue_job_security.xml",
        "security/ir.model.access.csv",
        "data/queue_job_data.xml",
        "data/queue_job_function_data.xml",
        "views/queue_job_views.xml",
        "views/queue_job_channel_views.xml",
        "views/queue_job_function_views.xml",
        "wizards/queue_jobs_to_done_views.xml",
        "wizards/queue_jobs_to_cancelled_views.xml",
        "wizards/queue_requeue_job_views.xml",
        "views/queue_job_menus.xml",
    ],
    "assets": {
        "web.assets_backend": [
            "queue_job/static/src/views/fields/job_directed_graph/*",
        ],
        "web.assets_tests": [
            "queue_job/static/tests/tours/*",
        ],
    },
    "installable": True,
    "application": True,
    "post_load": "post_load",
}
