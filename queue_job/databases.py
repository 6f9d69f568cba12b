"""Which databases this server may serve, as Odoo decides it for HTTP."""

import re

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


def may_serve(db_name):
    return bool(db_name) and served_databases([db_name]) == [db_name]
