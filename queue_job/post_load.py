import logging

from odoo import http

from .databases import may_serve

_logger = logging.getLogger(__name__)

RUNJOB_PATH = "/queue_job/runjob"


def post_load():
    """Route ``/queue_job/runjob?db=...`` to that database, even with several.

    Without this, a request carrying no session lands in no database when the
    server holds several. Only databases this server may serve are accepted.
    """
    original = http.Request._get_session_and_dbname

    def _get_session_and_dbname(self):
        session, dbname = original(self)
        if self.httprequest.path == RUNJOB_PATH:
            wanted = self.httprequest.args.get("db")
            if wanted and wanted != dbname and may_serve(wanted):
                dbname = wanted
                session.db = wanted
        return session, dbname

    http.Request._get_session_and_dbname = _get_session_and_dbname
    _logger.debug("queue_job: %s routes by its db parameter", RUNJOB_PATH)
