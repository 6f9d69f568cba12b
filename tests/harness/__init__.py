"""Test harness: throwaway PostgreSQL clusters and real Odoo 18 servers.

* :mod:`.pgcluster` -- :class:`PgCluster`, a private PostgreSQL server.
* :mod:`.odoo_server` -- one-shot Odoo runs (install, tests) and
  :class:`OdooServer`, a prefork server that tests can kill and restart.
* :mod:`.stack` -- ``python3 -m tests.harness.stack``: a local demo stack.

Only the PostgreSQL part is imported eagerly; the Odoo helpers never import
Odoo in the calling process, so this package is usable without Odoo.
"""

from .pgcluster import PgCluster, PgClusterError

__all__ = ["PgCluster", "PgClusterError"]
