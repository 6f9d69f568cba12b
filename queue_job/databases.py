"""Which databases this server may serve, as Odoo decides it for HTTP."""

import re
import time

import odoo
from odoo.tools import config


def _dbfilter_applies_without_host(pattern):
    # %h and %d stand for the request's host: without a request, they can't be evaluated.
    return "%h" not in pattern and "%d" not in pattern


def served_databases(candidates=None):
    """Databases allowed by ``db_name`` and ``dbfilter``, among ``candidates`` (default: all)."""
    if candidates is None:
        candidates = odoo.service.db.list_dbs(True)
    names = list(candidates)
    if config["db_name"]:
        allowed = {name.strip() for name in config["db_name"].split(",") if name.strip()}
        names = [name for name in names if name in allowed]
    pattern = config["dbfilter"]
    if pattern and _dbfilter_applies_without_host(pattern):
        names = [name for name in names if re.match(pattern, name)]
    return names


_served_cache = {}  # db name -> (monotonic time checked, allowed?)
_CACHE_SECONDS = 10.0


def may_serve(db_name):
    """True if ``db_name`` exists and this server may serve it (cached a few seconds)."""
    if not db_name:
        return False
    checked_at, allowed = _served_cache.get(db_name, (None, False))
    if checked_at is None or time.monotonic() - checked_at > _CACHE_SECONDS:
        allowed = db_name in served_databases()
        _served_cache[db_name] = (time.monotonic(), allowed)
    return allowed
