"""The parts of the job queue that need neither Odoo nor a database.

Channel scheduling, the job state machine, retry policy, argument encoding,
request signing, recurring-job timing, the shape of job graphs and the SQL
contract live here. Every module in this package imports only the standard
library (and its siblings, relatively; schedule.py also cronsim, a declared
dependency), so the engine can be tested on a machine without Odoo.
"""
