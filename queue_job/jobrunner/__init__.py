"""Starting the jobrunner with the Odoo server.

With ``server_wide_modules = base,web,queue_job``: in the prefork server
(``workers >= 1``) the runner is a child process of the master, respawned if
it dies; in the threaded server it is a thread. Not started with
``--stop-after-init``, nor when the root channel's capacity is 0.
"""

import logging
import os
import threading

from odoo.service import server
from odoo.tools import config

from .settings import channels_config
from .runner import QueueJobRunner
from ..engine.channels import ChannelConfigError, ChannelTree

_logger = logging.getLogger(__name__)

RUNNER_WATCHDOG = 120  # seconds without a heartbeat before the master kills the runner


def _runner_enabled():
    if config["stop_after_init"] or config["test_enable"] or config["test_file"]:
        return False
    try:
        tree = ChannelTree.from_config(channels_config())
    except ChannelConfigError as exc:
        _logger.error("queue job runner NOT started: invalid channels configuration: %s", exc)
        return False
    if not tree.enabled:
        _logger.info("queue job runner NOT started: the root channel's capacity is 0")
        return False
    return True


class RunnerWorker(server.Worker):
    """The prefork master's child process that runs the jobrunner."""

    def __init__(self, multi):
        super().__init__(multi)
        self.watchdog_timeout = RUNNER_WATCHDOG
        self.runner = None

    def sleep(self):
        pass

    def signal_handler(self, sig, frame):
        super().signal_handler(sig, frame)
        if self.runner:
            self.runner.stop()

    def signal_time_expired_handler(self, n, stack):
        # CPU time limits are for requests; the runner lives as long as the server.
        pass

    def check_limits(self):
        # The runner serves no requests: limit_request and limit_time_cpu don't apply.
        if self.ppid != os.getppid():
            self.alive = False

    def process_work(self):
        self.runner = QueueJobRunner(heartbeat=lambda: self.multi.pipe_ping(self.watchdog_pipe))
        self.runner.run()
        self.alive = False


_original = {
    "prefork_init": server.PreforkServer.__init__,
    "process_spawn": server.PreforkServer.process_spawn,
    "worker_pop": server.PreforkServer.worker_pop,
    "threaded_start": server.ThreadedServer.start,
    "threaded_stop": server.ThreadedServer.stop,
}
_runner_thread = None


def _prefork_init(self, app):
    _original["prefork_init"](self, app)
    self.queue_job_runner = {}


def _prefork_process_spawn(self):
    _original["process_spawn"](self)
    if hasattr(self, "queue_job_runner") and not self.queue_job_runner and _runner_enabled():
        self.worker_spawn(RunnerWorker, self.queue_job_runner)


def _prefork_worker_pop(self, pid):
    result = _original["worker_pop"](self, pid)
    if hasattr(self, "queue_job_runner"):
        self.queue_job_runner.pop(pid, None)
    return result


def _threaded_start(self, *args, **kwargs):
    global _runner_thread
    result = _original["threaded_start"](self, *args, **kwargs)
    if _runner_thread is None and _runner_enabled():
        runner = QueueJobRunner()
        _runner_thread = threading.Thread(target=runner.run, name="queue_job runner", daemon=True)
        _runner_thread.runner = runner
        _runner_thread.start()
    return result


def _threaded_stop(self):
    global _runner_thread
    if _runner_thread is not None:
        _runner_thread.runner.stop()
    result = _original["threaded_stop"](self)
    if _runner_thread is not None:
        _runner_thread.join(timeout=10)
        _runner_thread = None
    return result


server.PreforkServer.__init__ = _prefork_init
server.PreforkServer.process_spawn = _prefork_process_spawn
server.PreforkServer.worker_pop = _prefork_worker_pop
server.ThreadedServer.start = _threaded_start
server.ThreadedServer.stop = _threaded_stop
