from . import test_probe_api
