"""Proof that a run request comes from the jobrunner.

The runner and the workers share the database's secret (Odoo's
``database.secret`` parameter). The runner signs what it asks a worker to
run, with a timestamp; a worker runs nothing for a request whose signature
does not match or is too old. A uuid guessed by an outsider is worth nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import time

MAX_AGE = 120.0  # seconds; generous, since clocks are those of one cluster


class BadSignature(Exception):
    """The request was not signed by a runner that knows the secret."""


def _message(db: str, job_uuid: str, channels: str, timestamp: str) -> bytes:
    return "\n".join(("queue_job/runjob/v1", db, job_uuid, channels, timestamp)).encode()


def sign(secret: str, db: str, job_uuid: str, channels: str = "", now: float | None = None) -> tuple[str, str]:
    """Return ``(timestamp, signature)`` for a run request."""
    timestamp = f"{(time.time() if now is None else now):.3f}"
    digest = hmac.new(secret.encode(), _message(db, job_uuid, channels, timestamp), hashlib.sha256)
    return timestamp, digest.hexdigest()


def verify(
    secret: str,
    db: str,
    job_uuid: str,
    channels: str,
    timestamp: str,
    signature: str,
    now: float | None = None,
    max_age: float = MAX_AGE,
) -> None:
    """Raise BadSignature unless the request was signed with ``secret`` recently."""
    if not secret or not timestamp or not signature:
        raise BadSignature("missing signature")
    try:
        signed_at = float(timestamp)
    except ValueError:
        raise BadSignature("malformed timestamp") from None
    if not math.isfinite(signed_at):
        raise BadSignature("malformed timestamp")
    current = time.time() if now is None else now
    if abs(current - signed_at) > max_age:
        raise BadSignature("signature expired")
    expected = hmac.new(secret.encode(), _message(db, job_uuid, channels, timestamp), hashlib.sha256)
    # As bytes: compare_digest raises TypeError on a non-ASCII str.
    if not hmac.compare_digest(expected.hexdigest().encode(), signature.encode("utf-8", "replace")):
        raise BadSignature("signature mismatch")
