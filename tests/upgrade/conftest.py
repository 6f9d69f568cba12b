"""The upgrade test's stack: OCA's queue_job installed, filled, then moved to ours.

OCA's sources come from ``--oca PATH`` or ``QUEUE_JOB_OCA_PATH`` (a checkout
of OCA's queue repository, branch 18.0, or its queue_job directory). Without
them the tests are skipped, with a warning that says so.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from .oca_move import OCA_ENV, MoveStack, oca_root

SKIP_MESSAGE = (
    "UPGRADE FROM OCA's queue_job SKIPPED: no OCA sources given "
    f"(pytest --oca PATH, or {OCA_ENV}=PATH, PATH holding OCA's queue_job 18.0)"
)


@pytest.fixture(scope="session")
def oca_path(request: pytest.FixtureRequest) -> Path:
    raw = request.config.getoption("--oca", default=None) or os.environ.get(OCA_ENV)
    if not raw:
        warnings.warn(SKIP_MESSAGE, stacklevel=1)
        pytest.skip(SKIP_MESSAGE)
    try:
        return oca_root(raw)
    except ValueError as exc:
        pytest.fail(f"--oca / {OCA_ENV}: {exc}")


@pytest.fixture(scope="session")
def move_stack(oca_path: Path) -> Iterator[MoveStack]:
    stack = MoveStack(oca_path)
    stack.start()
    try:
        yield stack
    finally:
        stack.close()
