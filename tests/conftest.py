def pytest_configure(config):
    config.addinivalue_line("markers", "odoo: needs an importable Odoo 18")
