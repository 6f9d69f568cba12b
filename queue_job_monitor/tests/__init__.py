from . import test_figures, test_counters
