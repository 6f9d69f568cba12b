"""Shared by every pytest suite of tests/: the ``odoo`` marker and its skip,
and the state of the live stack appended to a failing test's report.

A test marked ``odoo`` needs an importable Odoo 18. Without one it is
skipped with the reason, and the reason is also given as a warning, so
that a skipped suite never reads like a passing one.
"""

from __future__ import annotations

import warnings

import pytest
from harness.odoo_setup import odoo_unavailable_reason

# Odoo addons' own tests run inside Odoo (tests/run.py), not under pytest.
collect_ignore = ["addons", "ui"]


def pytest_addoption(parser: pytest.Parser) -> None:
    # Here, not in tests/upgrade/conftest.py: pytest only reads options of the
    # conftest files next to the paths it is given.
    parser.addoption("--oca", default=None, metavar="PATH",
                     help="OCA's queue repository (18.0) for tests/upgrade; default: $QUEUE_JOB_OCA_PATH")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "odoo: needs an importable Odoo 18")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    marked = [item for item in items if item.get_closest_marker("odoo")]
    reason = odoo_unavailable_reason() if marked else None
    if reason is None:
        return
    message = f"needs an importable Odoo 18 -- {reason}: {len(marked)} test(s) skipped"
    warnings.warn(message, stacklevel=1)
    skip = pytest.mark.skip(reason=message)
    for item in marked:
        item.add_marker(skip)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """A failed test using a live stack (a fixture with ``diagnostics()``) reports that stack's state."""
    report = yield
    if report.failed:
        for name, value in getattr(item, "funcargs", {}).items():
            diagnostics = getattr(value, "diagnostics", None)
            if callable(diagnostics):
                report.sections.append((f"{name} at failure", diagnostics()))
    return report
