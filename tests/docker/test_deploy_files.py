"""docs/deploy/ (nginx site, systemd unit, odoo.conf) and docker/odoo.conf: valid, and
following the rules docs/production.rst states for queue_job.

nginx's configuration goes through crossplane (NGINX's own parser, with its
checks of contexts and argument counts) and ``nginx -t`` where nginx is
installed; the unit through ``systemd-analyze verify`` where systemd is.
"""

from __future__ import annotations

import configparser
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from harness.odoo_setup import REPO_ROOT

DEPLOY = REPO_ROOT / "docs" / "deploy"
CONFS = [DEPLOY / "odoo.conf", REPO_ROOT / "docker" / "odoo.conf"]

if str(REPO_ROOT / "queue_job") not in sys.path:
    sys.path.insert(0, str(REPO_ROOT / "queue_job"))  # the engine, without Odoo (as tests/engine does)
from engine.channels import ChannelTree  # noqa: E402


def read_conf(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(inline_comment_prefixes=None)
    assert parser.read(path, encoding="utf-8") == [str(path)]
    return parser


def seconds(value: str) -> int:
    match = re.fullmatch(r"(\d+)(s|m)?", value)
    assert match, value
    return int(match.group(1)) * (60 if match.group(2) == "m" else 1)


@pytest.mark.parametrize("path", CONFS, ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_odoo_conf_runs_the_queue(path):
    conf = read_conf(path)
    options = conf["options"]
    assert {"base", "web", "queue_job"} <= {m.strip() for m in options["server_wide_modules"].split(",")}
    workers = int(options["workers"])
    assert workers >= 2
    assert options.getboolean("proxy_mode")
    assert not options.getboolean("list_db")
    tree = ChannelTree.from_config(conf["queue_job"]["channels"])
    root = tree.spec("root").capacity
    assert root is not None and 0 < root < workers, "jobs must leave at least one worker to the users"


@pytest.fixture(scope="module")
def nginx(tmp_path_factory):
    crossplane = pytest.importorskip("crossplane", reason="python3 -m pip install -r .ci/requirements.txt")
    main = tmp_path_factory.mktemp("nginx") / "nginx.conf"
    main.write_text(f"events {{}}\nhttp {{\n    include {DEPLOY / 'nginx.conf'};\n}}\n")
    parsed = crossplane.parse(str(main), check_ctx=True, check_args=True, comments=False)
    assert parsed["status"] == "ok", parsed["errors"]
    (site,) = [c for c in parsed["config"] if c["file"] == str(DEPLOY / "nginx.conf")]
    return main, site["parsed"]


def _find(block: list[dict], directive: str, *args: str) -> list[dict]:
    return [d for d in block if d["directive"] == directive and (not args or d["args"][: len(args)] == list(args))]


def _locations(server: dict) -> dict[str, list[dict]]:
    return {d["args"][-1]: d["block"] for d in _find(server["block"], "location")}


def test_nginx_passes_nginx_own_check_where_installed(nginx, tmp_path):
    binary = shutil.which("nginx") or (Path("/usr/sbin/nginx") if Path("/usr/sbin/nginx").exists() else None)
    if binary is None:
        pytest.skip("nginx is not installed here; crossplane's parse is the check")
    main, _site = nginx
    # Certificates do not exist here: test the file with a throwaway self-signed pair.
    text = (DEPLOY / "nginx.conf").read_text()
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is needed to make a throwaway certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=test", "-days", "1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    text = re.sub(r"ssl_certificate\s+\S+;", f"ssl_certificate {cert};", text)
    text = re.sub(r"ssl_certificate_key\s+\S+;", f"ssl_certificate_key {key};", text)
    (tmp_path / "site.conf").write_text(text)
    temp_paths = "".join(f"    {kind}_temp_path {tmp_path}/{kind};\n"
                         for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    (tmp_path / "nginx.conf").write_text(f"pid {tmp_path}/nginx.pid;\nerror_log stderr;\nevents {{}}\n"
                                         f"http {{\n    access_log off;\n{temp_paths}"
                                         f"    include {tmp_path}/site.conf;\n}}\n")
    result = subprocess.run([str(binary), "-t", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_nginx_keeps_the_run_endpoint_and_metrics_off_the_internet(nginx):
    _main, site = nginx
    (https,) = [s for s in _find(site, "server") if any("443" in d["args"][0] for d in _find(s["block"], "listen"))]
    locations = _locations(https)
    assert [d["args"] for d in locations["/queue_job/runjob"]] == [["404"]], "runjob: return 404 and nothing else"
    metrics = locations["/queue_job/metrics"]
    assert _find(metrics, "deny", "all"), "metrics are denied to everyone not allowed"
    assert all(a["args"][0] not in ("all", "0.0.0.0/0") for a in _find(metrics, "allow"))


def test_nginx_routes_the_websocket_and_outwaits_odoo(nginx):
    _main, site = nginx
    conf = read_conf(DEPLOY / "odoo.conf")["options"]
    upstreams = {d["args"][0]: d["block"][0]["args"][0] for d in _find(site, "upstream")}
    assert upstreams["odoo"].endswith(f":{conf['http_port']}")
    assert upstreams["odoo_websocket"].endswith(f":{conf['gevent_port']}")
    (https,) = [s for s in _find(site, "server") if _find(s["block"], "ssl_certificate")]
    websocket = _locations(https)["/websocket"]
    assert _find(websocket, "proxy_pass")[0]["args"] == ["http://odoo_websocket"]
    assert _find(websocket, "proxy_set_header", "Upgrade") and _find(websocket, "proxy_set_header", "Connection")
    assert _find(websocket, "proxy_http_version")[0]["args"] == ["1.1"]
    # proxy_set_header in a location drops the server's: the forwarded headers are repeated.
    assert _find(websocket, "proxy_set_header", "X-Forwarded-Proto")
    read_timeout = seconds(_find(https["block"], "proxy_read_timeout")[0]["args"][0])
    assert read_timeout > int(conf["limit_time_real"])


def test_systemd_unit_stops_odoo_gracefully():
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str
    unit.read(DEPLOY / "odoo.service", encoding="utf-8")
    service = unit["Service"]
    assert service["KillMode"] == "mixed", "SIGTERM to the master only, which stops its workers gracefully"
    limit = int(read_conf(DEPLOY / "odoo.conf")["options"]["limit_time_real"])
    assert int(service["TimeoutStopSec"]) > limit
    assert service["ExecStart"].split()[1:] == ["--config", "/etc/odoo/odoo.conf"]
    assert service["User"] == "odoo"
    assert "/var/lib/odoo" in service["ReadWritePaths"], "Odoo's data_dir (filestore, sessions)"


def test_systemd_unit_passes_systemd_analyze_where_available(tmp_path):
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed here")
    # The unit runs Odoo's launcher, not installed here: the rest is verified.
    text = re.sub(r"^ExecStart=\S+", "ExecStart=/bin/true", (DEPLOY / "odoo.service").read_text(), flags=re.M)
    (tmp_path / "odoo.service").write_text(text)
    result = subprocess.run([analyze, "verify", str(tmp_path / "odoo.service")], capture_output=True, text=True)
    assert result.returncode == 0 and result.stderr.strip() == "", result.stderr


@pytest.mark.parametrize("doc", ["docs/production.rst", "docker/README.rst"])
def test_docs_are_valid_rst_and_name_real_files(doc):
    docutils_core = pytest.importorskip("docutils.core", reason="python3 -m pip install -r .ci/requirements.txt")
    text = (REPO_ROOT / doc).read_text(encoding="utf-8")
    docutils_core.publish_doctree(text, source_path=doc, settings_overrides={"halt_level": 2, "report_level": 2})
    named = set(re.findall(r"``((?:docs|docker|tests|queue_job)/[\w./-]+)``", text))
    assert named, "the document names no file of the repository"
    missing = sorted(p for p in named if not (REPO_ROOT / p).exists())
    assert missing == [], f"{doc} names files that do not exist"
