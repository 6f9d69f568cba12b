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

The PostgreSQL part is imported on first use; the Odoo helpers never import
Odoo in the calling process, so this package is usable without Odoo.
"""

from typing import Any

__all__ = ["PgCluster", "PgClusterError"]


def __getattr__(name: str) -> Any:
    # Imported on first use: ``python3 -m tests.harness.stack`` must be able to
    # say what is missing on a machine without psycopg2 rather than fail here.
    if name in __all__:
        from . import pgcluster

        return getattr(pgcluster, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
