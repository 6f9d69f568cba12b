"""Sends run requests to the Odoo workers, one thread per slot in flight."""

import base64
import http.client
import json
import logging
import os
import queue
import socket
import threading
from dataclasses import dataclass, field
from urllib.parse import urlencode

from ..engine import signing

_logger = logging.getLogger(__name__)


@dataclass
class Slot:
    db: str
    uuid: str  # the job the runner claimed
    channel: str  # configured channel the slot counts against
    continue_with: list  # raw channel names the worker may pull more jobs from
    budget: float
    max_jobs: int
    outcomes: list = field(default_factory=list)
    error: str | None = None


class Dispatcher:
    """A pool of threads, each carrying one slot's request at a time.

    Finished slots are queued for the runner, which is woken through a pipe.
    """

    def __init__(self, config, threads):
        self.config = config
        self.tasks = queue.Queue()
        self.finished = queue.Queue()
        self.wake_r, self.wake_w = os.pipe()
        os.set_blocking(self.wake_r, False)
        self._threads = []
        self.ensure_threads(threads)

    def ensure_threads(self, count):
        """At least ``count`` threads: a capacity raised in the interface needs more slots in flight."""
        while len(self._threads) < count:
            thread = threading.Thread(target=self._work, name=f"queue_job dispatcher {len(self._threads)}", daemon=True)
            self._threads.append(thread)
            thread.start()

    def submit(self, slot, secret):
        self.tasks.put((slot, secret))

    def stop(self):
        for _thread in self._threads:
            self.tasks.put(None)

    def drain_wakeups(self):
        try:
            while os.read(self.wake_r, 4096):
                pass
        except BlockingIOError:
            pass

    def _work(self):
        while True:
            task = self.tasks.get()
            if task is None:
                return
            slot, secret = task
            try:
                slot.outcomes = self._post(slot, secret)
            except Exception as exc:  # any failure: the runner decides what to do with the job
                slot.error = f"{type(exc).__name__}: {exc}"
            self.finished.put(slot)
            os.write(self.wake_w, b".")

    def _post(self, slot, secret):
        channels = ",".join(slot.continue_with)
        timestamp, signature = signing.sign(secret, slot.db, slot.uuid, channels)
        query = urlencode({"db": slot.db, "job_uuid": slot.uuid})
        body = urlencode(
            {
                "channels": channels,
                "budget": f"{slot.budget:g}",
                "max_jobs": slot.max_jobs,
                "ts": timestamp,
                "sig": signature,
            }
        )
        headers = {"Content-Type": "application/x-www-form-urlencoded", "Host": self.config.host}
        if self.config.http_auth_user:
            credentials = f"{self.config.http_auth_user}:{self.config.http_auth_password or ''}"
            headers["Authorization"] = "Basic " + base64.b64encode(credentials.encode()).decode()
        connection_class = (
            http.client.HTTPSConnection if self.config.scheme == "https" else http.client.HTTPConnection
        )
        # No timeout: a slot lasts as long as its job; Odoo's limit_time_real
        # bounds it, and a dead worker closes the connection.
        connection = connection_class(self.config.host, self.config.port)
        try:
            connection.connect()
            connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            connection.sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
            connection.request("POST", f"/queue_job/runjob?{query}", body=body, headers=headers)
            response = connection.getresponse()
            payload = response.read()
        finally:
            connection.close()
        if response.status != 200:
            raise RuntimeError(f"HTTP {response.status} from /queue_job/runjob: {payload[:300]!r}")
        return json.loads(payload)["jobs"]
