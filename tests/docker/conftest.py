"""One throwaway PostgreSQL cluster for the tests of docker/ that need a server."""

from __future__ import annotations

import pytest
from harness.pgcluster import PgCluster


@pytest.fixture(scope="session")
def cluster():
    with PgCluster(fast=True) as pg:
        yield pg
