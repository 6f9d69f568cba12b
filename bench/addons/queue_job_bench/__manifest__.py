{
    "name": "Job Queue benchmark jobs",
    "summary": "No-op and timestamping jobs for bench/run.py; installs on this queue_job and on OCA's",
    "version": "18.0.1.0.0",
    "license": "LGPL-3",
    "depends": ["queue_job"],
    "data": ["security/ir.model.access.csv"],
    "installable": True,
}
