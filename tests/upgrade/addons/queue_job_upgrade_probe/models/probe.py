"""Jobs written against the API that OCA's queue_job and this one share.

Each run leaves an effect row holding the canonical form of what the job
received, so a test can compare the arguments a job got after the move with
the ones it was given before it.
"""

import json
from datetime import date, datetime

from odoo import fields, models


def canon(value):
    """A JSON-ready form of a job value that is equal whenever the values are.

    Lists and tuples compare equal (OCA hands positional arguments back as a
    list, this queue as a tuple); dict keys are sorted (jsonb does not keep
    their order); recordsets become (model, ids).
    """
    if isinstance(value, models.BaseModel):
        return {"recordset": value._name, "ids": list(value.ids)}
    if isinstance(value, datetime):
        return {"datetime": value.isoformat()}
    if isinstance(value, date):
        return {"date": value.isoformat()}
    if isinstance(value, dict):
        return {"dict": sorted([[str(key), canon(item)] for key, item in value.items()])}
    if isinstance(value, (list, tuple)):
        return [canon(item) for item in value]
    return value


def canon_text(value):
    return json.dumps(canon(value), sort_keys=True)


class QueueJobUpgradeProbe(models.Model):
    _name = "queue.job.upgrade.probe"
    _description = "Job queue upgrade probe"

    name = fields.Char()

    def probe_run(self, tag, *args, **kwargs):
        """Upgrade probe: record what the job received"""
        self.env["queue.job.upgrade.effect"].create({
            "tag": tag,
            "received": canon_text({"records": self, "args": list(args), "kwargs": kwargs}),
        })
        return f"ran {tag}"

    def probe_manual(self, tag, *args, **kwargs):
        """Upgrade probe: a job function configured by hand"""
        return self.probe_run(tag, *args, **kwargs)


class QueueJobUpgradeEffect(models.Model):
    _name = "queue.job.upgrade.effect"
    _description = "Job queue upgrade probe: one row per run"

    tag = fields.Char(index=True)
    received = fields.Text()
