{
    "name": "Scheduled Actions as Queue Jobs",
    "summary": "Run an ir.cron as a queue job (drop-in for OCA's queue_job_cron)",
    "version": "18.0.1.0.0",
    "author": "queue_job contributors",
    "license": "LGPL-3",
    "category": "Generic Modules",
    "depends": ["queue_job"],
    "data": ["data/queue_job_cron_data.xml", "views/ir_cron_views.xml"],
    "installable": True,
}
