"""``/queue_job/metrics`` (Prometheus) and ``/queue_job/health`` (probes).

Both serve one database per request, chosen as Odoo chooses it: the ``db``
parameter, else the only database ``db_name``/``dbfilter`` let this server
serve. For a server with several databases, list ``queue_job_monitor`` in
``server_wide_modules`` (like ``queue_job``) so that the routes exist before
a database is chosen.
"""

import contextlib
import hmac
import json
import logging

import psycopg2

from odoo import http
from odoo.modules.registry import Registry

from odoo.addons.queue_job.jobrunner.settings import setting

from .. import exposition, figures

_logger = logging.getLogger(__name__)

TOKEN_KEY = "metrics_token"  # [queue_job] metrics_token, or ODOO_QUEUE_JOB_METRICS_TOKEN


def _plain(text, status, headers=None):
    return http.Response(text + "\n", status=status, content_type="text/plain; charset=utf-8", headers=headers)


class _Refused(Exception):
    def __init__(self, status, text, headers=None):
        super().__init__(text)
        self.response = _plain(text, status, headers)


def _configured_token():
    return setting(TOKEN_KEY)


def _check_bearer(token):
    """Raise _Refused unless the request carries ``Authorization: Bearer <token>``."""
    header = http.request.httprequest.headers.get("Authorization")
    if not header:
        raise _Refused(401, "Unauthorized", {"WWW-Authenticate": 'Bearer realm="queue_job"'})
    scheme, _sep, value = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise _Refused(401, "Unauthorized: expected 'Authorization: Bearer <token>'",
                       {"WWW-Authenticate": 'Bearer realm="queue_job", error="invalid_request"'})  # fmt: skip
    if not hmac.compare_digest(value.strip().encode(), token.encode()):
        raise _Refused(403, "Forbidden")


def _database(db):
    """The database of this request, or _Refused with a 4xx."""
    candidates = http.db_list(force=True)
    if db:
        if db not in candidates:
            raise _Refused(404, "Unknown database")
        name = db
    elif len(candidates) == 1:
        name = candidates[0]
    else:
        raise _Refused(400, "Several databases: pass ?db=<name>")
    try:
        registry = Registry(name)
    except Exception as exc:  # not an Odoo database, or one that cannot load
        _logger.info("metrics/health: database %s cannot be loaded: %s", name, exc)
        raise _Refused(404, "Unknown database") from None
    if "queue.job.monitor" not in registry:
        raise _Refused(404, "queue_job_monitor is not installed in this database")
    return registry


@contextlib.contextmanager
def _cursor(registry, readonly):
    """The request's own cursor when Odoo already opened this database, else a new one."""
    request = http.request
    if request.db == registry.db_name and getattr(request, "env", None) is not None:
        yield request.env.cr
    else:
        with registry.cursor(readonly=readonly) as cr:
            yield cr


def _read(db, read, *, bearer, what, unavailable, readonly=True):
    """``(registry, read(cr, silent_after))`` on the request's database, after the bearer check.

    ``bearer``: the token the request must carry, or None for no check.
    Raises _Refused with the response to send: 4xx for the token or the
    database, 503 ``unavailable`` when PostgreSQL does not answer.
    """
    try:
        if bearer is not None:
            _check_bearer(bearer)
        registry = _database(db)
        with _cursor(registry, readonly) as cr:
            return registry, read(cr, _silent_after(cr))
    except psycopg2.Error as exc:
        _logger.warning("%s of %s could not be read: %s", what, db, exc)
        raise _Refused(503, unavailable) from None


def _silent_after(cr):
    cr.execute("SELECT value FROM ir_config_parameter WHERE key = 'queue_job_monitor.runner_silent_after'")
    row = cr.fetchone()
    try:
        return float(row[0]) if row else figures.DEFAULT_SILENT_AFTER
    except ValueError:
        return figures.DEFAULT_SILENT_AFTER


def _scrape(cr, silent_after):
    """Fold the counters' deltas (unless a fold is under way), then the whole scrape.

    After the fold, a scrape reads a few hundred totals rather than every
    state change since the minute cron last ran, however fast the queue
    drains and however late the cron is.
    """
    figures.fold_counters(cr, wait=False)
    return exposition.render(cr, silent_after)


class MonitorController(http.Controller):
    # Not read-only: the scrape folds the counters first.
    @http.route("/queue_job/metrics", type="http", auth="none", methods=["GET"], csrf=False, save_session=False,
                readonly=False)
    def metrics(self, db=None, **_params):
        token = _configured_token()
        if not token:
            return _plain("Not Found", 404)
        try:
            _registry, text = _read(db, _scrape, bearer=token, what="metrics", unavailable="Database unavailable",
                                    readonly=False)
        except _Refused as refused:
            return refused.response
        return http.Response(text, content_type=exposition.CONTENT_TYPE)

    @http.route("/queue_job/health", type="http", auth="none", methods=["GET"], csrf=False, save_session=False,
                readonly=True)
    def health(self, db=None, **_params):
        """200 "ok" when the database answers and a live runner leads it, else 503."""
        token = _configured_token()
        detailed = bool(http.request.httprequest.headers.get("Authorization"))
        if detailed and not token:
            return _plain("Forbidden: no metrics token is configured", 403)
        try:
            registry, runner = _read(db, figures.runner_state, bearer=token if detailed else None, what="health",
                                     unavailable="unavailable")
        except _Refused as refused:
            return refused.response
        healthy = runner["leader"] is not None and not runner["silent"]
        status = 200 if healthy else 503
        if not detailed:
            return _plain("ok" if healthy else ("no runner" if runner["leader"] is None else "runner silent"), status)
        leader = runner["leader"]
        body = {
            "status": "ok" if healthy else "unhealthy",
            "database": registry.db_name,
            "runner": leader and {
                "host": leader["host"], "pid": leader["pid"], "since": leader["since"].isoformat() + "Z",
                "application_name": leader["application_name"],
            },
            "listen_connection": leader and {"backend_pid": leader["backend_pid"], "waiting": leader["listening"]},
            "last_dispatch": runner["last_dispatch"] and runner["last_dispatch"].isoformat() + "Z",
            "seconds_since_dispatch": runner["seconds_since_dispatch"],
            "jobs_ready": runner["ready"],
            "jobs_in_flight": runner["in_flight"],
            "silent": runner["silent"],
        }  # fmt: skip
        return http.Response(json.dumps(body), status=status, content_type="application/json")
