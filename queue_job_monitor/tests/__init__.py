from . import test_counters, test_dashboard_tour, test_endpoints, test_figures
