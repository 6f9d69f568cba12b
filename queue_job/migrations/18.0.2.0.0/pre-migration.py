"""-u queue_job from an older queue_job (OCA's 18.0.1.x): convert the tables
before the ORM updates the schema and init() builds the unique identity index.
See ../from_oca.py."""

import importlib.util
from pathlib import Path


def _from_oca():
    path = Path(__file__).resolve().parent.parent / "from_oca.py"
    spec = importlib.util.spec_from_file_location("queue_job_migrations_from_oca", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def migrate(cr, version):
    if not version:
        return
    _from_oca().migrate_before_schema(cr)
