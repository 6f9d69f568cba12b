"""The jobrunner: decides which jobs start, and asks Odoo workers to run them.

It keeps no job in memory. For each database it leads, it looks at which
channels have pending jobs, how many slots each channel has free, and claims
the best ready jobs straight from PostgreSQL; a claimed job goes to a worker
over HTTP as a *slot* (see executor.py). It wakes on NOTIFY, when a slot
ends, at the next ETA, and on a timer for healing and new databases.
"""

import logging
import os
import selectors
import time
from collections import defaultdict

import psycopg2

from ..databases import served_databases
from ..engine import sql
from ..engine.channels import ThrottleClock
from ..engine.live_channels import LiveChannels, merge_channels
from . import claims
from .settings import RunnerConfig
from .database import Database
from .dispatcher import Dispatcher, Slot

_logger = logging.getLogger(__name__)

POLL_INTERVAL = 30.0  # seconds: look at every database even without news
RECONNECT_DELAY = 2.0
UPGRADE_CHECK_INTERVAL = 1.0  # seconds: how often a database being upgraded is looked at
WAKE_CHILDREN_INTERVAL = 60.0
CHANNEL_STARTS_KEPT = 3600.0  # seconds of rate-limited starts kept at least, beyond the longest period
REQUEST_RETRY_FIRST = 1.0  # seconds before a job whose request failed is sent again
REQUEST_RETRY_MAX = 60.0  # ... doubling while requests to that database keep failing


class QueueJobRunner:
    def __init__(self, config=None, heartbeat=None):
        self.config = config or RunnerConfig.from_environ_or_config()
        self.tree = self.config.channels  # as configured; each database may change it (see _read_channels)
        self.live = {}  # db -> LiveChannels: the configured tree with the stored channels over it
        self.throttle = {}  # db -> ThrottleClock
        self._reported = defaultdict(set)  # db -> channel problems already logged
        self.heartbeat = heartbeat or (lambda: None)
        self.databases = {}  # name -> Database
        self.in_flight = defaultdict(lambda: defaultdict(int))  # db -> configured channel -> slots
        self.in_flight_uuids = defaultdict(set)  # db -> uuids of jobs handed to a worker
        self.dirty = set()  # databases to dispatch for at the next turn
        self._stop = False
        self._stop_r, self._stop_w = os.pipe()
        self._next = defaultdict(float)  # timer name -> monotonic time it is due
        self._retry_db_at = {}
        self._upgrading = set()  # databases whose dispatching is paused by an upgrade
        self._wakeups = {}  # db -> monotonic time of its next ETA
        self._failed_requests = {}  # db -> requests failed in a row
        self._candidates = set()  # databases this server may serve
        self.dispatcher = Dispatcher(self.config, threads=min(256, self.tree.spec("root").capacity or 1))

    @classmethod
    def from_environ_or_config(cls):
        return cls()

    # -- lifecycle ------------------------------------------------------------

    def stop(self):
        _logger.info("queue job runner: stop requested")
        self._stop = True
        os.write(self._stop_w, b".")

    def run(self):
        _logger.info("queue job runner starting, channels: %s", self.tree.describe())
        try:
            while not self._stop:
                try:
                    self._turn()
                except Exception:
                    # Never die: log, start afresh with new connections.
                    _logger.exception("queue job runner: unexpected error; restarting in %ss", RECONNECT_DELAY)
                    for name in list(self.databases):
                        self._forget(name)
                    time.sleep(RECONNECT_DELAY)
        finally:
            self.dispatcher.stop()
            for db in self.databases.values():
                db.close()
            self.databases.clear()
            _logger.info("queue job runner stopped")

    def _turn(self):
        self.heartbeat()
        self._refresh_databases()
        self._collect_finished_slots()
        self._heal()
        for name in list(self.dirty):
            self.dirty.discard(name)
            self._dispatch(name)
        self._wait()

    def _due(self, timer, interval):
        now = time.monotonic()
        if now >= self._next[timer]:
            self._next[timer] = now + interval
            return True
        return False

    # -- databases ---------------------------------------------------------------

    def _refresh_databases(self):
        if self._due("databases", self.config.db_refresh_interval):
            try:
                names = set(served_databases())
            except psycopg2.Error as exc:
                _logger.warning("queue job runner: cannot list databases: %s", exc)
                # PostgreSQL is down or restarting: keep every database we knew,
                # including those we lost a moment ago and are reconnecting to;
                # else they would wait for the next listing, db_refresh_interval away.
                names = set(self.databases) | self._candidates
            for name in set(self.databases) - names:
                _logger.info("queue job runner: database %s is gone", name)
                self._forget(name)
            for name in set(self._retry_db_at) - names:
                del self._retry_db_at[name]
            self._candidates = names
        now = time.monotonic()
        for name in sorted(self._candidates):
            db = self.databases.get(name)
            if db is None and now >= self._retry_db_at.get(name, 0):
                db = self._open(name)
            if db is not None and not db.leader and self._due(f"lead:{name}", 5.0):
                self._try_lead(db)

    def _open(self, name):
        try:
            db = Database(name)
            if not db.has_queue_job():
                db.close()
                self._retry_db_at[name] = time.monotonic() + self.config.db_refresh_interval
                return None
            missing = db.missing_columns()
            if missing:
                db.close()
                _logger.error(
                    "queue job runner: database %s has queue_job tables older than its code "
                    "(missing columns: %s); run the server once with -u queue_job. Jobs of this "
                    "database wait until then.", name, ", ".join(missing),
                )
                self._retry_db_at[name] = time.monotonic() + max(60.0, self.config.db_refresh_interval)
                return None
        except psycopg2.Error as exc:
            if self._still_listed(name):
                _logger.warning("queue job runner: cannot open database %s: %s", name, exc)
                self._retry_db_at[name] = time.monotonic() + RECONNECT_DELAY
            else:
                # Dropped or renamed: Odoo's database manager cut our connection first.
                _logger.info("queue job runner: database %s is gone", name)
                self._candidates.discard(name)
                self._retry_db_at.pop(name, None)
            return None
        self._retry_db_at.pop(name, None)
        self.databases[name] = db
        return db

    def _still_listed(self, name):
        try:
            return name in served_databases()
        except psycopg2.Error:
            return True  # PostgreSQL is down or restarting: keep trying

    def _try_lead(self, db):
        try:
            if db.try_lead():
                _logger.info("queue job runner ready for db %s", db.name)
                self.dirty.add(db.name)
            elif not getattr(db, "_said_standby", False):
                _logger.info("queue job runner: another runner dispatches for db %s; standing by", db.name)
                db._said_standby = True
        except psycopg2.Error as exc:
            self._lost(db.name, exc)

    def _forget(self, name):
        db = self.databases.pop(name, None)
        if db is not None:
            db.close()
        self.live.pop(name, None)  # read again from whichever runner leads next
        self._wakeups.pop(name, None)
        self.dirty.discard(name)
        self._upgrading.discard(name)

    def _lost(self, name, exc):
        _logger.warning("queue job runner: lost database %s (%s); reconnecting", name, str(exc).strip())
        self._forget(name)
        self._retry_db_at[name] = time.monotonic() + RECONNECT_DELAY

    # -- channels ------------------------------------------------------------------

    def _live(self, name):
        live = self.live.get(name)
        return live if live is not None else LiveChannels(self.tree)

    def _throttle(self, name):
        clock = self.throttle.get(name)
        if clock is None:
            clock = self.throttle[name] = ThrottleClock(self._live(name).tree)
        return clock

    def _read_channels(self, db):
        """Merge the stored channels of ``db`` over the configured ones; log what changed."""
        live = merge_channels((self.tree.spec(n) for n in self.tree.names), db.channel_settings())
        for channel, problem in live.problems:
            if (channel, problem) not in self._reported[db.name]:
                self._reported[db.name].add((channel, problem))
                _logger.error(
                    "queue job runner: channel %s of db %s: %s; its stored settings are ignored, "
                    "it runs as configured", channel, db.name, problem,
                )
        self._reported[db.name] &= set(live.problems)  # a problem fixed then made again is logged again
        previous = self.live.get(db.name)
        if previous is None or previous.describe() != live.describe():
            _logger.info("queue job runner: channels of db %s: %s", db.name, live.describe())
        self.live[db.name] = live
        self._throttle(db.name).follow(live.tree)
        self.dispatcher.ensure_threads(min(256, live.tree.spec("root").capacity or 1))

    # -- dispatching ------------------------------------------------------------

    def _running(self, name, db, tree):
        """Slots in use by configured channel: ours in flight, or what the table says if more;
        and whether jobs we did not send (a previous runner's) hold some of them."""
        from_table = defaultdict(int)
        for channel, count in db.running_by_channel().items():
            from_table[tree.resolve(channel)] += count
        ours = self.in_flight[name]
        running = {
            channel: max(ours.get(channel, 0), from_table.get(channel, 0)) for channel in set(ours) | set(from_table)
        }
        foreign = any(count > ours.get(channel, 0) for channel, count in from_table.items())
        return running, foreign

    def _blocked(self, db, tree, pending_by_channel):
        blocked = self._throttle(db.name).blocked(time.time())
        sequential = tree.sequential()
        if sequential:
            raw = [raw for channel in sequential for raw in pending_by_channel.get(channel, ())]
            if raw:
                blocked |= {tree.resolve(channel) for channel in db.channels_with_failures(raw)}
        return blocked

    def _upgrading_now(self, db):
        upgrading = db.is_upgrading()
        if upgrading != (db.name in self._upgrading):
            if upgrading:
                _logger.info("queue job runner: db %s is being upgraded; dispatching paused", db.name)
                self._upgrading.add(db.name)
            else:
                _logger.info("queue job runner: db %s upgraded; dispatching resumed", db.name)
                self._upgrading.discard(db.name)
        return upgrading

    def _dispatch(self, name):
        db = self.databases.get(name)
        if db is None or not db.leader:
            return
        try:
            payloads = db.drain_notifications()
            if name not in self.live or sql.CHANNELS_CHANGED in payloads or self._due(f"channels:{name}", POLL_INTERVAL):
                self._read_channels(db)
            if self._upgrading_now(db):
                # Hands off: the code the jobs would run is in flux, and the
                # upgrade may hold queue_job locked until it commits.
                self._wakeups[name] = time.monotonic() + UPGRADE_CHECK_INTERVAL
                return
            foreign, rate_wait = self._claim_and_send(name, db)
            delay = db.seconds_to_next_eta()
            if rate_wait is not None:
                delay = rate_wait if delay is None else min(delay, rate_wait)
            wake_at = time.monotonic() + delay if delay is not None else None
            if foreign:
                # Slots held by jobs a previous runner sent (this one was just
                # respawned or took over) free up without telling us: no slot of
                # ours ends and a job ending sends no NOTIFY. Look again soon
                # rather than at the next poll, 30 s away.
                recheck = time.monotonic() + self.config.heal_interval
                wake_at = recheck if wake_at is None else min(wake_at, recheck)
            self._wakeups[name] = wake_at
        except psycopg2.Error as exc:
            self._lost(name, exc)

    def _claim_and_send(self, name, db):
        """Claim the jobs that fit and send them.

        Returns whether jobs we did not send hold slots, and the seconds
        before a rate-limited channel with pending jobs may start one (None: no such wait).
        """
        live = self._live(name)
        tree = live.tree
        running, foreign = self._running(name, db, tree)
        free = tree.free_slots(running)
        if not any(free.values()):
            return foreign, None
        pending_by_channel = defaultdict(list)
        for raw in db.pending_channels():
            if not live.is_paused(raw):
                pending_by_channel[tree.resolve(raw)].append(raw)
        blocked = self._blocked(db, tree, pending_by_channel)
        wanted = [
            raw
            for channel, raws in pending_by_channel.items()
            if free.get(channel) and not blocked.intersection(tree.lineage(channel))
            for raw in raws
        ]
        rate_waits = claims.rate_waits(db, live, wanted) if live.rate_limits else {}
        waiting = {limit for limit, wait in rate_waits.items() if wait > 0}
        if waiting:
            wanted = [raw for raw in wanted if not waiting.intersection(live.rate_limited(raw))]
        rate_wait = min((rate_waits[limit] for limit in waiting), default=None)
        if not wanted:
            return foreign, rate_wait
        per_channel = max(free[tree.resolve(raw)] for raw in wanted)
        chosen, rated, key_skipped = claims.choose(db, live, wanted, per_channel, running, blocked)
        if rated:
            # The next start of these channels is one gap away (see RateLimit.gap).
            gaps = [live.rate_limits[limit].gap for _job_id, limit in rated]
            rate_wait = min(gaps) if rate_wait is None else min(rate_wait, *gaps)
        if not chosen:
            return foreign, rate_wait
        if key_skipped:
            # Jobs skipped for a key this claim used up: jobs behind them may
            # fit now that the claim is committed and counts in the database.
            self.dirty.add(name)
        secret = db.secret()
        for job_id, uuid, raw in db.mark_enqueued([row[0] for row in chosen], rated):
            channel = tree.resolve(raw)
            paced = live.paces_slots(raw)
            slot = Slot(
                db=name,
                uuid=uuid,
                channel=channel,
                continue_with=[] if paced else [r for r in pending_by_channel[channel] if not live.paces_slots(r)],
                budget=0.0 if paced else self.config.slot_budget,
                max_jobs=1 if paced else self.config.slot_max_jobs,
            )
            self.in_flight[name][channel] += 1
            self.in_flight_uuids[name].add(uuid)
            self._throttle(name).started(channel, tree, time.time())
            _logger.debug("queue job runner: job %s on %s (channel %s) sent to a worker", uuid, name, raw)
            self.dispatcher.submit(slot, secret)
        return foreign, rate_wait

    def _collect_finished_slots(self):
        self.dispatcher.drain_wakeups()
        while not self.dispatcher.finished.empty():
            slot = self.dispatcher.finished.get_nowait()
            self.in_flight[slot.db][slot.channel] -= 1
            self.in_flight_uuids[slot.db].discard(slot.uuid)
            self.dirty.add(slot.db)
            if slot.error:
                self._slot_failed(slot)
            else:
                self._failed_requests.pop(slot.db, None)

    def _slot_failed(self, slot):
        # The worker may never have seen the request: give the job back, due
        # again after a delay that doubles while requests keep failing (a
        # wrong port, a proxy refusing them...), so that nothing spins. If the
        # worker did start it, the job's lease tells the healer what happened.
        failures = self._failed_requests[slot.db] = self._failed_requests.get(slot.db, 0) + 1
        delay = min(REQUEST_RETRY_MAX, REQUEST_RETRY_FIRST * 2 ** (failures - 1))
        _logger.warning(
            "queue job runner: request for job %s on %s failed: %s; tried again in %g s",
            slot.uuid, slot.db, slot.error, delay,
        )
        db = self.databases.get(slot.db)
        if db is None:
            return
        # A worker refuses requests signed with a secret the database no longer
        # has (Odoo gives a duplicated database a new one): read it again.
        db.forget_secret()
        try:
            db.put_back_pending(slot.uuid, delay)
        except psycopg2.Error as exc:
            self._lost(slot.db, exc)

    # -- healing --------------------------------------------------------------

    def _heal(self):
        if not self._due("heal", self.config.heal_interval):
            return
        wake_children = self._due("wake_children", WAKE_CHILDREN_INTERVAL)
        for name, db in list(self.databases.items()):
            if not db.leader:
                continue
            try:
                if self._upgrading_now(db):
                    continue
                for uuid, channel, state, tries in db.heal_orphans(
                    self.config.enqueued_grace, self.in_flight_uuids[name], self.config.max_worker_losses
                ):
                    _logger.warning(
                        "queue job runner: job %s on %s (channel %s) lost its worker; now %s after %s tries",
                        uuid, name, channel, state, tries,
                    )
                    self.dirty.add(name)
                if wake_children and db.wake_ready_children():
                    self.dirty.add(name)
                if wake_children:
                    periods = [limit.period for limit in self._live(name).rate_limits.values()]
                    db.prune_channel_starts(max([CHANNEL_STARTS_KEPT, *periods]) * 2)
            except psycopg2.Error as exc:
                self._lost(name, exc)

    # -- waiting ----------------------------------------------------------------

    def _wait(self):
        # Notifications that arrived during our own queries are already read
        # off the socket: select() would not see them.
        for name, db in self.databases.items():
            if db.leader and db.conn.notifies:
                self.dirty.add(name)
        if self.dirty or not self.dispatcher.finished.empty():
            return
        now = time.monotonic()
        deadlines = [now + POLL_INTERVAL, self._next["heal"], self._next["databases"]]
        deadlines += [at for at in self._wakeups.values() if at is not None]
        throttle_times = [at for clock in self.throttle.values() if (at := clock.next_wakeup(time.time()))]
        throttle_at = min(throttle_times) if throttle_times else None
        if throttle_at is not None:
            deadlines.append(now + (throttle_at - time.time()))
        deadlines += [at for at in self._retry_db_at.values() if at > now]
        timeout = max(0.0, min(deadlines) - now)
        with selectors.DefaultSelector() as selector:
            selector.register(self._stop_r, selectors.EVENT_READ)
            selector.register(self.dispatcher.wake_r, selectors.EVENT_READ)
            for name, db in self.databases.items():
                if db.leader:
                    selector.register(db, selectors.EVENT_READ, name)
            for key, _events in selector.select(timeout=min(timeout, 10.0)):
                if key.data:
                    self.dirty.add(key.data)
        now = time.monotonic()
        for name, at in self._wakeups.items():
            if at is not None and at <= now:
                self.dirty.add(name)
        if throttle_at is not None and throttle_at <= time.time():
            self.dirty.update(name for name, db in self.databases.items() if db.leader)
        if now >= self._next["poll"]:
            self._next["poll"] = now + POLL_INTERVAL
            self.dirty.update(name for name, db in self.databases.items() if db.leader)
