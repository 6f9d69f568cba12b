"""The one place the demo touches queue_job's progress API.

``odoo.addons.queue_job.progress`` gives a running job ``notify_progress``,
``attach_result`` and ``with_delay(notify=True)``. Until the installed
queue_job has it, the calls below fall back to doing nothing (progress), to
attaching the file to the demo record (results), and to a plain
``with_delay`` (notification): the demo works either way.
"""

from __future__ import annotations

import inspect
import logging

_logger = logging.getLogger(__name__)

try:
    from odoo.addons.queue_job import progress as _api
except ImportError:  # queue_job without the progress API
    _api = None


def notify_progress(done: int, total: int | None = None, message: str | None = None) -> None:
    """Report how far the running job is; nothing outside a job."""
    if _api is not None:
        _api.notify_progress(done, total=total, message=message)


def attach_result(record, name: str, content: bytes | str, mimetype: str | None = None):
    """The result file of the running job, also kept on ``record`` (an ir.attachment)."""
    if isinstance(content, str):
        content = content.encode()
    attachment = _api.attach_result(name, content, mimetype=mimetype) if _api is not None else None
    if not attachment:
        attachment = record.env["ir.attachment"].create({
            "name": name,
            "raw": content,
            "mimetype": mimetype or "application/octet-stream",
            "res_model": record._name,
            "res_id": record.id,
        })
    return attachment


def with_delay_notify(records, **options):
    """``records.with_delay(**options)``, telling the user when the job ends where queue_job can."""
    if "notify" in inspect.signature(type(records).with_delay).parameters:
        options["notify"] = True
    return records.with_delay(**options)


