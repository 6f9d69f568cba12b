from . import test_counters, test_endpoints, test_figures
