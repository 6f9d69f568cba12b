{
    "name": "Job Queue probe",
    "summary": "Test addon written only against OCA queue_job's documented API",
    "version": "18.0.1.0.0",
    "license": "LGPL-3",
    "depends": ["queue_job"],
    "data": [
        "security/ir.model.access.csv",
        "data/queue_job_data.xml",
    ],
    "installable": True,
}
