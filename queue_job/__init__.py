from . import controllers
from . import fields
from . import models
from . import wizards
from . import jobrunner
from .post_load import post_load

from .job import identity_exact
