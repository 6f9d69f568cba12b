{
    "name": "Job Queue upgrade probe",
    "summary": "Jobs for tests/upgrade: installs on OCA's queue_job 18.0 and on this one",
    "version": "18.0.1.0.0",
    "license": "LGPL-3",
    "depends": ["queue_job"],
    "data": ["security/ir.model.access.csv", "data/queue_job_data.xml"],
    "installable": True,
}
