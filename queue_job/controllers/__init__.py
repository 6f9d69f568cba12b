from . import main
from . import job_status
