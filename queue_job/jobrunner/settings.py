"""The runner's settings: ``ODOO_QUEUE_JOB_*`` environment variables first,
then the ``[queue_job]`` section of odoo.conf, then defaults."""

import os
from dataclasses import dataclass

import odoo.sql_db
from odoo.tools import config

from ..engine.channels import DEFAULT_CONFIG, ChannelTree


def queue_job_config():
    try:
        from odoo.addons.server_environment import serv_config

        if serv_config.has_section("queue_job"):
            return dict(serv_config["queue_job"])
    except ImportError:
        pass
    return dict(config.misc.get("queue_job", {}))


def setting(key, default=None):
    value = os.environ.get(f"ODOO_QUEUE_JOB_{key.upper()}")
    if value in (None, ""):
        value = queue_job_config().get(key)
    return default if value in (None, "") else value


def channels_config():
    return setting("channels", DEFAULT_CONFIG)


def _number(key, default, kind=float):
    raw = setting(key, default)
    try:
        return kind(raw)
    except (TypeError, ValueError):
        raise ValueError(f"queue_job setting {key}={raw!r} is not a number") from None


@dataclass
class RunnerConfig:
    channels: ChannelTree
    scheme: str
    host: str
    port: int
    http_auth_user: str | None
    http_auth_password: str | None
    # How long one slot may keep pulling jobs of its channels (seconds), and
    # how many jobs at most: short jobs share one request; 0 = one job per request.
    slot_budget: float
    slot_max_jobs: int
    heal_interval: float  # seconds between two checks for jobs whose worker died
    enqueued_grace: float  # an enqueued job not started after this long is put back
    db_refresh_interval: float  # seconds between two looks for new databases
    max_worker_losses: int  # a job whose worker died this many times fails

    @classmethod
    def from_environ_or_config(cls):
        return cls(
            channels=ChannelTree.from_config(channels_config()),
            scheme=setting("scheme", "http"),
            host=setting("host") or config["http_interface"] or "localhost",
            port=int(setting("port") or config["http_port"] or 8069),
            http_auth_user=setting("http_auth_user"),
            http_auth_password=setting("http_auth_password"),
            slot_budget=_number("slot_budget", 2.0),
            slot_max_jobs=int(_number("slot_max_jobs", 200)),
            heal_interval=_number("heal_interval", 5.0),
            enqueued_grace=_number("enqueued_grace", 60.0),
            db_refresh_interval=_number("db_refresh_interval", 20.0),
            max_worker_losses=int(_number("max_worker_losses", 5)),
        )


def connection_info(db_name):
    """psycopg2 connection arguments of the runner for ``db_name``."""
    _db_or_uri, info = odoo.sql_db.connection_info_for(db_name)
    for key in ("host", "port", "user", "password"):
        value = setting(f"jobrunner_db_{key}")
        if value:
            info[key] = value
    return info

