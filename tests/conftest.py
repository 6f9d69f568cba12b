def pytest_configure(config):
    config.addinivalue_line("markers", "odoo: needs an importable Odoo 18")

# Odoo addons' own tests run inside Odoo (tests/run.py), not under pytest.
collect_ignore = ["addons", "ui"]
