"""Entry script for Odoo when no ``odoo-bin`` ships next to the ``odoo`` package.

It has to be a real file rather than ``python -c``: Odoo's prefork master
re-executes ``sys.argv[0]`` to spawn the gevent (websocket) process, and
``-c`` would be re-executed as a code string.
"""

import os
import sys

# Odoo expects the server to run in UTC; its own launcher does the same
# before anything imports the time module.
os.environ["TZ"] = "UTC"

import odoo.cli  # noqa: E402

if __name__ == "__main__":
    sys.exit(odoo.cli.main())
