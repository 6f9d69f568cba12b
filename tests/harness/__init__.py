"""Test harness: throwaway PostgreSQL clusters and real Odoo 18 servers.

* :mod:`.pgcluster` -- :class:`PgCluster`, a private PostgreSQL server.
* :mod:`.odoo_setup` -- finding Odoo, its addons path and config files;
  :class:`OdooError`.
* :mod:`.odoo_oneshot` -- one-shot Odoo runs: :func:`init_database`,
  :func:`run_odoo_tests`.
* :mod:`.odoo_server` -- :class:`OdooServer`, a prefork server that tests can
  kill and restart; :mod:`.odoo_processes` tells its processes apart.
* :mod:`.odoo_rpc` -- :class:`OdooRpc`, JSON-RPC to a running server.
* :mod:`.odoo_logs` -- Odoo log records and test-run summaries.
* :mod:`.procs` -- /proc, signal and free-port helpers.
* :mod:`.stack` -- ``python3 -m tests.harness.stack``: a local demo stack.

Only the PostgreSQL part is imported eagerly; the Odoo helpers never import
Odoo in the calling process, so this package is usable without Odoo.
"""

from .pgcluster import PgCluster, PgClusterError

__all__ = ["PgCluster", "PgClusterError"]
