"""The runner's connection to one database: leadership, notifications, claims."""

import logging
import os
from contextlib import closing

import psycopg2
from psycopg2.extensions import ISOLATION_LEVEL_AUTOCOMMIT

from ..engine import sql
from ..engine.live_channels import stored_channels
from .settings import connection_info

_logger = logging.getLogger(__name__)


class Database:
    """One autocommit connection, LISTENing, and the runner lock when it leads."""

    def __init__(self, name):
        self.name = name
        info = connection_info(name)
        info["application_name"] = f"queue_job runner {os.getpid()}"
        self.conn = psycopg2.connect(**info)
        self.conn.set_isolation_level(ISOLATION_LEVEL_AUTOCOMMIT)
        self.leader = False
        self._secret = None

    def close(self):
        try:
            self.conn.close()
        except psycopg2.Error:
            pass
        self.leader = False

    def fileno(self):
        return self.conn.fileno()

    def _fetchall(self, query, params=None):
        with closing(self.conn.cursor()) as cr:
            cr.execute(query, params)
            return cr.fetchall() if cr.description else []

    def _fetchone(self, query, params=None):
        with closing(self.conn.cursor()) as cr:
            cr.execute(query, params)
            return cr.fetchone()

    def has_queue_job(self):
        if not self._fetchone(sql.IS_ODOO_DATABASE):
            return False
        return bool(self._fetchone(sql.DATABASE_HAS_QUEUE_JOB))

    def missing_columns(self):
        required = list(sql.REQUIRED_COLUMNS)
        present = {row[0] for row in self._fetchall(sql.EXISTING_COLUMNS, {"columns": required})}
        channel_columns = list(sql.CHANNEL_COLUMNS)
        present_channel = {
            row[0] for row in self._fetchall(sql.EXISTING_CHANNEL_COLUMNS, {"columns": channel_columns})
        }
        return sorted(set(required) - present) + [
            f"queue_job_channel.{column}" for column in sorted(set(channel_columns) - present_channel)
        ]

    def channel_settings(self):
        """The stored channels (see engine/live_channels.py)."""
        return stored_channels(self._fetchall(sql.CHANNEL_SETTINGS))

    def try_lead(self):
        """Take the runner lock of this database if nobody holds it; LISTEN once leading."""
        if not self.leader and self._fetchone(sql.TRY_LEAD)[0]:
            self._fetchall(sql.LISTEN)
            self.leader = True
        return self.leader

    def is_upgrading(self):
        return self._fetchone(sql.MODULES_BEING_CHANGED)[0] or self._fetchone(sql.DATABASE_IS_UPGRADING)[0]

    def secret(self):
        if self._secret is None:
            row = self._fetchone(sql.DATABASE_SECRET)
            self._secret = row[0] if row else ""
        return self._secret

    def forget_secret(self):
        self._secret = None

    def drain_notifications(self):
        """Read pending notifications; the set of their payloads ("" for new jobs)."""
        self.conn.poll()
        payloads = {notify.payload for notify in self.conn.notifies}
        self.conn.notifies.clear()
        return payloads

    def pending_channels(self):
        return [row[0] for row in self._fetchall(sql.PENDING_CHANNELS)]

    def running_by_channel(self):
        return dict(self._fetchall(sql.RUNNING_BY_CHANNEL))

    def channels_with_failures(self, channels):
        return {row[0] for row in self._fetchall(sql.FAILED_CHANNELS, {"channels": list(channels)})}

    def candidates(self, channels, per_channel):
        return self._fetchall(sql.CANDIDATES, {"channels": list(channels), "per_channel": per_channel})

    def aged_candidates(self, channel, step, per_channel):
        return self._fetchall(sql.CANDIDATES_AGED, {"channel": channel, "step": step, "per_channel": per_channel})

    def running_by_key(self, keys):
        return dict(self._fetchall(sql.RUNNING_BY_KEY, {"keys": list(keys)}))

    def rate_windows(self, periods):
        """channel -> (starts in its period, seconds since the newest, since the oldest)."""
        names = sorted(periods)
        rows = self._fetchall(sql.RATE_WINDOWS, {"channels": names, "periods": [periods[n] for n in names]})
        return {
            name: (count, None if last is None else float(last), None if oldest is None else float(oldest))
            for name, count, last, oldest in rows
        }

    def prune_channel_starts(self, keep):
        self._fetchall(sql.PRUNE_CHANNEL_STARTS, {"keep": keep})

    def mark_enqueued(self, ids, rated=()):
        """Claim these jobs; ``rated``: (job id, rate-limited channel) pairs whose starts are counted."""
        if not rated:
            return self._fetchall(sql.MARK_ENQUEUED, {"ids": list(ids)})
        return self._fetchall(
            sql.MARK_ENQUEUED_COUNTED,
            {
                "ids": list(ids),
                "rated_ids": [job_id for job_id, _name in rated],
                "rated_channels": [name for _id, name in rated],
            },
        )

    def put_back_pending(self, uuid, delay):
        with closing(self.conn.cursor()) as cr:
            cr.execute(sql.PUT_BACK_PENDING, {"uuid": uuid, "delay": delay})
            return cr.rowcount

    def seconds_to_next_eta(self):
        row = self._fetchone(sql.NEXT_ETA)
        return None if row is None or row[0] is None else float(row[0])

    def heal_orphans(self, grace, in_flight_uuids, max_losses):
        return self._fetchall(
            sql.HEAL_ORPHANS, {"grace": grace, "in_flight": list(in_flight_uuids), "max_losses": max_losses}
        )

    def wake_ready_children(self):
        return self._fetchall(sql.WAKE_READY_CHILDREN)
