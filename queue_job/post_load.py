import logging

from odoo import http

from .databases import may_serve
from .insert_buffer import install_flush_all_hook

_logger = logging.getLogger(__name__)

RUNJOB_PATH = "/queue_job/runjob"


def post_load():
    """Route ``/queue_job/runjob?db=...`` straight to that database.

    Without this, a request carrying no session lands in no database when the
    server holds several, and finding out costs a new connection to the
    ``postgres`` database on every request (Odoo lists the databases). The
    runner's requests carry no session: use a blank one. Only databases this
    server may serve are accepted; the others go the usual way.
    Also makes ``env.flush_all()`` write the rows of new jobs (insert_buffer).
    """
    install_flush_all_hook()
    original = http.Request._get_session_and_dbname

    def _get_session_and_dbname(self):
        if self.httprequest.path == RUNJOB_PATH:
            wanted = self.httprequest.args.get("db")
            if wanted and may_serve(wanted):
                session = http.root.session_store.new()
                for key, value in http.get_default_session().items():
                    session.setdefault(key, value)
                session.context.setdefault("lang", self.default_lang())
                session.db = wanted
                session.is_dirty = False
                return session, wanted
        return original(self)

    http.Request._get_session_and_dbname = _get_session_and_dbname
    _logger.debug("queue_job: %s routes by its db parameter", RUNJOB_PATH)
