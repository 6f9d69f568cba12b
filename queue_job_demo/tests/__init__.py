from . import test_csv_import
from . import test_pdf_report
from . import test_workflow
from . import test_ai_call
from . import test_newsletter
from . import test_traffic
from . import test_tour
