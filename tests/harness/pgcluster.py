"""Throwaway PostgreSQL clusters for tests, benchmarks and local stacks.

A :class:`PgCluster` owns one temporary directory holding the data dir, the
unix socket and the server log.  It listens on 127.0.0.1 on a port picked at
runtime, so several clusters (and several test runs) can coexist.

When the harness runs as root the server runs as the ``postgres`` OS user:
initdb and the postmaster refuse to run as root.
"""

from __future__ import annotations

import atexit
import glob
import logging
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType
from typing import Any

import psycopg2
import psycopg2.extensions
from psycopg2 import sql

from .procs import child_pids, free_port, pid_alive, signal_pids, wait_pids_gone

__all__ = ["PgCluster", "PgClusterError", "find_pg_bin"]

_logger = logging.getLogger(__name__)

# Clusters still running, so that an interpreter exiting without close()
# (a failing test, an exception in a fixture) does not leave postmasters behind.
_LIVE_CLUSTERS: set[PgCluster] = set()

_SUPERUSER = "postgres"


class PgClusterError(RuntimeError):
    """A cluster command failed; the message carries the server log tail."""


def find_pg_bin() -> Path:
    """Directory holding initdb/pg_ctl/postgres.

    ``PG_BIN`` wins; then the newest Debian-style /usr/lib/postgresql/N/bin;
    then whatever ``pg_ctl`` is on PATH.
    """
    override = os.environ.get("PG_BIN")
    if override:
        return Path(override)
    candidates = glob.glob("/usr/lib/postgresql/*/bin/pg_ctl")

    def major(path: str) -> float:
        try:
            return float(Path(path).parent.parent.name)
        except ValueError:
            return 0.0

    if candidates:
        return Path(max(candidates, key=major)).parent
    on_path = shutil.which("pg_ctl")
    if on_path:
        return Path(on_path).parent
    raise PgClusterError("PostgreSQL binaries not found; set PG_BIN to the directory holding pg_ctl")


def _tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return "<no log file>"
    return "\n".join(text.splitlines()[-lines:])


class PgCluster:
    """A private PostgreSQL server in a temporary directory.

    Typical use::

        with PgCluster(fast=True) as pg:
            pg.create_database("db1")
            with pg.connect("db1") as conn: ...

    ``user``/``password`` name the non-superuser login role (CREATEDB) that
    Odoo uses: Odoo refuses the ``postgres`` role.  Superuser access is still
    available through ``connect(dbname, superuser=True)`` over the unix socket.
    """

    host = "127.0.0.1"

    def __init__(
        self,
        *,
        port: int | None = None,
        user: str = "odoo",
        password: str = "odoo",
        fast: bool = False,
        keep: bool = False,
        max_connections: int = 200,
        settings: dict[str, Any] | None = None,
        base_dir: str | os.PathLike[str] | None = None,
        pg_bin: str | os.PathLike[str] | None = None,
        auth: str = "trust",
        locale: str = "C.UTF-8",
    ) -> None:
        self.user = user
        self.password = password
        self.fast = fast
        self.keep = keep
        self.max_connections = max_connections
        self.extra_settings = dict(settings or {})
        self.auth = auth
        self.locale = locale
        self.pg_bin = Path(pg_bin) if pg_bin else find_pg_bin()
        # A port given by the caller is a promise; a port we picked ourselves
        # may be re-picked if someone grabs it before the postmaster binds.
        self._port_fixed = port is not None
        self.port: int = port if port is not None else free_port()
        self._base_dir = Path(base_dir) if base_dir else None
        self.root: Path | None = None
        self._initialized = False
        self._pid: int | None = None

    # ------------------------------------------------------------------ paths
    @property
    def data_dir(self) -> Path:
        return self._require_root() / "data"

    @property
    def socket_dir(self) -> Path:
        return self._require_root()

    @property
    def log_path(self) -> Path:
        return self._require_root() / "postgres.log"

    def _require_root(self) -> Path:
        if self.root is None:
            raise PgClusterError("cluster has no directory yet: call start() first")
        return self.root

    # ---------------------------------------------------------- subprocesses
    def _as_db_user(self) -> dict[str, Any]:
        """Popen keywords that drop root privileges to the postgres OS user."""
        if os.geteuid() != 0:
            return {}
        return {"user": _SUPERUSER, "group": _SUPERUSER, "extra_groups": []}

    def _run(self, args: list[str], check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        cmd = [str(self.pg_bin / args[0]), *args[1:]]
        _logger.debug("running %s", " ".join(cmd))
        env = dict(os.environ, LC_ALL="C.UTF-8", LANG="C.UTF-8")
        env.pop("PGDATA", None)
        proc = subprocess.run(
            cmd,
            cwd=self._require_root(),  # postgres cannot chdir back into /root
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            # The postmaster inherits this session: a Ctrl-C aimed at the
            # test run must not shut the server down behind the harness' back.
            start_new_session=True,
            **self._as_db_user(),
        )
        if check and proc.returncode != 0:
            raise PgClusterError(
                f"{args[0]} failed ({proc.returncode}):\n{proc.stdout}{proc.stderr}\n"
                f"--- server log tail ---\n{_tail(self.log_path) if self.root else ''}"
            )
        return proc

    # ------------------------------------------------------------- lifecycle
    def _create_dir(self) -> None:
        if self._base_dir is not None:
            self._base_dir.mkdir(parents=True, exist_ok=True)
        self.root = Path(tempfile.mkdtemp(prefix="pgcluster-", dir=self._base_dir))
        if os.geteuid() == 0:
            pw = pwd.getpwnam(_SUPERUSER)
            os.chown(self.root, pw.pw_uid, pw.pw_gid)

    def _initdb(self) -> None:
        if self.root is None:
            self._create_dir()
        base = ["initdb", "-D", str(self.data_dir), "-U", _SUPERUSER, "-E", "UTF8",
                "--auth=trust", "--no-sync", "--no-instructions"]
        proc = self._run([*base, f"--locale={self.locale}"], check=False)
        if proc.returncode != 0 and "locale" in (proc.stdout + proc.stderr).lower():
            # Minimal images may lack C.UTF-8; plain C always exists.
            _logger.warning("initdb with locale %s failed, retrying with C", self.locale)
            shutil.rmtree(self.data_dir, ignore_errors=True)
            proc = self._run([*base, "--locale=C"], check=False)
        if proc.returncode != 0:
            raise PgClusterError(f"initdb failed:\n{proc.stdout}{proc.stderr}")
        hba = (
            "# written by tests.harness.pgcluster: throwaway cluster, loopback only\n"
            "local all all trust\n"
            f"host all all 127.0.0.1/32 {self.auth}\n"
        )
        self._write_owned(self.data_dir / "pg_hba.conf", hba)
        with open(self.data_dir / "postgresql.conf", "a", encoding="utf-8") as fh:
            fh.write("\ninclude 'harness.conf'\n")
        self._initialized = True

    def _write_owned(self, path: Path, text: str) -> None:
        path.write_text(text, encoding="utf-8")
        if os.geteuid() == 0:
            pw = pwd.getpwnam(_SUPERUSER)
            os.chown(path, pw.pw_uid, pw.pw_gid)

    def settings(self) -> dict[str, Any]:
        """Effective server settings written to harness.conf."""
        values: dict[str, Any] = {
            "listen_addresses": self.host,
            "port": self.port,
            "unix_socket_directories": str(self.socket_dir),
            "max_connections": self.max_connections,
            "shared_buffers": "128MB",
            "log_line_prefix": "%m [%p] %q%u@%d ",
            "log_min_messages": "warning",
            "logging_collector": "off",
        }
        if self.fast:
            # Durability is worthless in a cluster that is deleted afterwards.
            values.update(fsync="off", synchronous_commit="off", full_page_writes="off")
        values.update(self.extra_settings)
        return values

    def _write_settings(self) -> None:
        lines = ["# written by tests.harness.pgcluster on every start"]
        for key, value in self.settings().items():
            if isinstance(value, bool):
                rendered = "on" if value else "off"
            elif isinstance(value, (int, float)):
                rendered = str(value)
            else:
                rendered = "'" + str(value).replace("'", "''") + "'"
            lines.append(f"{key} = {rendered}")
        self._write_owned(self.data_dir / "harness.conf", "\n".join(lines) + "\n")

    def start(self) -> PgCluster:
        """initdb on first call, then start the server and wait until it accepts connections."""
        if self.running:
            return self
        first_start = not self._initialized
        if first_start:
            self._initdb()
        else:
            self._remove_stale_pid_file()
        for attempt in range(5):
            self._write_settings()
            proc = self._run(
                ["pg_ctl", "-D", str(self.data_dir), "-l", str(self.log_path), "-w", "-t", "120", "start"],
                check=False,
                timeout=180,
            )
            if proc.returncode == 0:
                break
            log_tail = _tail(self.log_path)
            if self._port_fixed or "could not bind" not in log_tail or attempt == 4:
                raise PgClusterError(
                    f"pg_ctl start failed ({proc.returncode}):\n{proc.stdout}{proc.stderr}\n"
                    f"--- server log tail ---\n{log_tail}"
                )
            old_port, self.port = self.port, free_port(exclude=[self.port])
            _logger.info("port %s was taken, retrying on %s", old_port, self.port)
        self._pid = self._read_postmaster_pid()
        _LIVE_CLUSTERS.add(self)
        _logger.info("PostgreSQL started: pid %s port %s dir %s", self._pid, self.port, self.root)
        if first_start:
            self._create_login_role()
        return self

    def _read_postmaster_pid(self) -> int | None:
        try:
            first_line = (self.data_dir / "postmaster.pid").read_text().splitlines()[0]
        except (FileNotFoundError, IndexError):
            return None
        return int(first_line.strip())

    def _remove_stale_pid_file(self) -> None:
        # After kill() the dead postmaster can stay a zombie for a while when
        # PID 1 is slow to reap orphans.  PostgreSQL's own stale-lock check
        # uses kill(pid, 0), which succeeds on zombies, so it would refuse to
        # start.  A zombie holds neither shared memory nor sockets, so its
        # lock files can go.
        locks = [self.data_dir / "postmaster.pid", *self.socket_dir.glob(".s.PGSQL.*.lock")]
        for lock in locks:
            try:
                pid = int(lock.read_text().splitlines()[0].strip())
            except (FileNotFoundError, IndexError, ValueError):
                continue
            if not pid_alive(pid):
                _logger.info("removing stale %s of dead pid %s", lock.name, pid)
                lock.unlink(missing_ok=True)
                if lock.name.endswith(".lock"):
                    lock.with_name(lock.name[: -len(".lock")]).unlink(missing_ok=True)

    def _create_login_role(self) -> None:
        with self.connect("postgres", superuser=True) as conn, conn.cursor() as cur:
            cur.execute(
                sql.SQL("CREATE ROLE {} LOGIN CREATEDB PASSWORD %s").format(sql.Identifier(self.user)),
                (self.password,),
            )
        conn.close()

    @property
    def pid(self) -> int | None:
        """PID of the postmaster, or None when it is not running."""
        if self.root is None:
            return None
        pid = self._read_postmaster_pid() or self._pid
        return pid if pid and pid_alive(pid) else None

    @property
    def running(self) -> bool:
        return self.pid is not None

    def stop(self, mode: str = "fast", timeout: float = 60) -> None:
        """Stop the server (pg_ctl stop -m ``mode``); escalates to SIGKILL if it hangs."""
        pid = self.pid
        if pid is None:
            _LIVE_CLUSTERS.discard(self)
            return
        backends = child_pids(pid)
        proc = self._run(
            ["pg_ctl", "-D", str(self.data_dir), "-m", mode, "-w", "-t", str(int(timeout)), "stop"],
            check=False,
            timeout=timeout + 30,
        )
        if proc.returncode != 0 and pid_alive(pid):
            _logger.warning("pg_ctl stop -m %s failed (%s); sending SIGKILL", mode, proc.stderr.strip())
            signal_pids([pid], signal.SIGKILL)
        self._reap(pid, backends)
        _LIVE_CLUSTERS.discard(self)
        _logger.info("PostgreSQL on port %s stopped", self.port)

    def restart(self, mode: str = "fast") -> PgCluster:
        """Stop then start again on the same port with the same data."""
        self._port_fixed = True  # clients hold our DSN: keep the port
        self.stop(mode=mode)
        return self.start()

    def kill(self) -> None:
        """SIGKILL the postmaster, as a crash would; the next start() runs crash recovery."""
        pid = self.pid
        if pid is None:
            return
        backends = child_pids(pid)
        _logger.info("SIGKILL postmaster %s (%d backends)", pid, len(backends))
        signal_pids([pid], signal.SIGKILL)
        self._reap(pid, backends)
        self._port_fixed = True
        _LIVE_CLUSTERS.discard(self)

    def _reap(self, pid: int, backends: list[int]) -> None:
        # Orphaned backends notice the postmaster death on their own, but a
        # new postmaster refuses to start while they still hold the shared
        # memory segment, so make sure they are really gone.
        survivors = wait_pids_gone([pid, *backends], timeout=10)
        if survivors:
            signal_pids(survivors, signal.SIGKILL)
            survivors = wait_pids_gone(survivors, timeout=10)
        if survivors:
            raise PgClusterError(f"PostgreSQL processes survived SIGKILL: {survivors}")

    def close(self) -> None:
        """Stop the server and delete its directory (unless ``keep``)."""
        try:
            self.stop()
        finally:
            if self.root is not None:
                if self.keep:
                    _logger.info("keeping PostgreSQL directory %s", self.root)
                else:
                    shutil.rmtree(self.root, ignore_errors=True)
                    self.root = None
                    self._initialized = False

    def __enter__(self) -> PgCluster:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<PgCluster port={self.port} root={self.root} running={self.running}>"

    # ----------------------------------------------------------- connections
    def dsn(self, dbname: str = "postgres") -> str:
        """libpq keyword DSN for the login role over TCP."""
        return f"host={self.host} port={self.port} user={self.user} password={self.password} dbname={dbname}"

    def connect(
        self,
        dbname: str = "postgres",
        *,
        superuser: bool = False,
        autocommit: bool = False,
        **kwargs: Any,
    ) -> psycopg2.extensions.connection:
        """A new psycopg2 connection; the caller closes it.

        ``superuser=True`` connects as ``postgres`` over the unix socket,
        which is handy for pg_terminate_backend() and other admin tasks.
        """
        if superuser:
            params: dict[str, Any] = {"host": str(self.socket_dir), "port": self.port, "user": _SUPERUSER}
        else:
            params = {"host": self.host, "port": self.port, "user": self.user, "password": self.password}
        params.update(kwargs)
        conn: psycopg2.extensions.connection = psycopg2.connect(dbname=dbname, **params)
        conn.autocommit = autocommit
        return conn

    def _admin(self) -> psycopg2.extensions.connection:
        return self.connect("postgres", superuser=True, autocommit=True)

    def create_database(self, name: str, *, template: str = "template0") -> None:
        """CREATE DATABASE owned by the login role."""
        conn = self._admin()
        try:
            with conn.cursor() as cur:
                cur.execute(
                    sql.SQL("CREATE DATABASE {} OWNER {} ENCODING 'UTF8' TEMPLATE {}").format(
                        sql.Identifier(name), sql.Identifier(self.user), sql.Identifier(template)
                    )
                )
        finally:
            conn.close()

    def drop_database(self, name: str, *, missing_ok: bool = True) -> None:
        """DROP DATABASE, disconnecting whoever is still connected."""
        conn = self._admin()
        try:
            with conn.cursor() as cur:
                cur.execute(
                    sql.SQL("DROP DATABASE {}{} WITH (FORCE)").format(
                        sql.SQL("IF EXISTS ") if missing_ok else sql.SQL(""), sql.Identifier(name)
                    )
                )
        finally:
            conn.close()

    def database_exists(self, name: str) -> bool:
        conn = self._admin()
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
                return cur.fetchone() is not None
        finally:
            conn.close()

    def server_log(self) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def backend_pids(self, dbname: str | None = None) -> list[int]:
        """PIDs of client backends (optionally of one database), via pg_stat_activity."""
        conn = self._admin()
        try:
            with conn.cursor() as cur:
                cur.execute(
                    "SELECT pid FROM pg_stat_activity WHERE backend_type = 'client backend'"
                    " AND pid <> pg_backend_pid() AND (%s::text IS NULL OR datname = %s)",
                    (dbname, dbname),
                )
                return sorted(row[0] for row in cur.fetchall())
        finally:
            conn.close()


def _cleanup_live_clusters() -> None:
    for cluster in list(_LIVE_CLUSTERS):
        try:
            cluster.close()
        except Exception:  # noqa: BLE001 - best effort at interpreter exit
            _logger.exception("could not clean up %r", cluster)


atexit.register(_cleanup_live_clusters)
