from . import test_alert_rules, test_bulk_action, test_counters, test_dashboard_tour, test_endpoints, test_figures, test_trends
