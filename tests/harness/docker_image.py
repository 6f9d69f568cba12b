"""Read docker/compose.yaml and docker/Dockerfile the way Docker would, without Docker.

The tests of docker/ check these files, and start the image's entrypoint on
this machine with the environment and health check the compose file gives
the image: this module answers "what does the image see" for them.
"""

from __future__ import annotations

import os
import re
import shlex
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .odoo_setup import REPO_ROOT

__all__ = [
    "COMPOSE_FILE",
    "DOCKERFILE",
    "DOCKER_DIR",
    "Copy",
    "addon_dirs",
    "compose_environment",
    "dockerfile_copies",
    "dockerfile_instructions",
    "environ_without_libpq",
    "healthcheck_command",
    "load_compose",
    "local_path",
    "substitute",
]

DOCKER_DIR = REPO_ROOT / "docker"
COMPOSE_FILE = DOCKER_DIR / "compose.yaml"
DOCKERFILE = DOCKER_DIR / "Dockerfile"

# ${VAR}, ${VAR:-default}, ${VAR-default}, $VAR; $$ is a literal $.
_VARIABLE = re.compile(r"\$\$|\$\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?-)(?P<default>[^}]*))?\}"
                       r"|\$(?P<bare>[A-Za-z_][A-Za-z0-9_]*)")


def substitute(value: str, environ: Mapping[str, str] | None = None) -> str:
    """Compose's interpolation of ``value`` (an empty environment by default: the defaults apply)."""
    env = environ or {}

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group("braced") or match.group("bare")
        op = match.group("op")
        current = env.get(name)
        if op == ":-" and not current:
            return match.group("default")
        if op == "-" and current is None:
            return match.group("default")
        return current or ""

    return _VARIABLE.sub(replace, value)


def load_compose(path: Path = COMPOSE_FILE) -> dict[str, Any]:
    import yaml  # PyYAML: installed with Odoo, and by .ci/requirements.txt

    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def compose_environment(service: str, environ: Mapping[str, str] | None = None,
                        compose: Mapping[str, Any] | None = None) -> dict[str, str]:
    """The environment the compose file gives ``service``'s container, interpolated."""
    compose = compose if compose is not None else load_compose()
    raw = compose["services"][service].get("environment") or {}
    if isinstance(raw, list):
        raw = dict(item.split("=", 1) if "=" in item else (item, "") for item in raw)
    return {key: substitute(str(value), environ) for key, value in raw.items()}


# ------------------------------------------------------------------ Dockerfile
def dockerfile_instructions(path: Path = DOCKERFILE) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, continuation lines joined, comments dropped."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for line in path.read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if pending and stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        text = pending + stripped
        pending = ""
        word, _, rest = text.partition(" ")
        instructions.append((word.upper(), rest.strip()))
    if pending:
        raise ValueError(f"{path}: the last instruction ends with a line continuation")
    return instructions


@dataclass(frozen=True)
class Copy:
    stage: str  # the stage this COPY is in (its AS name, or its index)
    sources: tuple[str, ...]
    destination: str
    from_stage: str | None  # --from=...


def dockerfile_copies(path: Path = DOCKERFILE) -> list[Copy]:
    copies: list[Copy] = []
    stage, index = "", -1
    for word, rest in dockerfile_instructions(path):
        if word == "FROM":
            index += 1
            parts = rest.split()
            stage = parts[2] if len(parts) >= 3 and parts[1].upper() == "AS" else str(index)
        elif word in ("COPY", "ADD"):
            if rest.startswith("["):
                raise ValueError(f"{path}: {word} in JSON form is not read by these tests")
            args = shlex.split(rest)
            options = [a for a in args if a.startswith("--")]
            paths = [a for a in args if not a.startswith("--")]
            from_stage = next((o.split("=", 1)[1] for o in options if o.startswith("--from=")), None)
            copies.append(Copy(stage, tuple(paths[:-1]), paths[-1], from_stage))
    return copies


def local_path(image_path: str, context: Path = REPO_ROOT, path: Path = DOCKERFILE) -> Path:
    """The file of the build context that the final image holds at ``image_path``."""
    final_stage = dockerfile_copies(path)[-1].stage
    for copy in dockerfile_copies(path):
        if copy.stage != final_stage or copy.from_stage:
            continue
        for source in copy.sources:
            if copy.destination.endswith("/"):
                if image_path == copy.destination + Path(source).name:
                    return context / source
            elif image_path == copy.destination and len(copy.sources) == 1:
                return context / source
    raise LookupError(f"{image_path} is not copied from the build context by {path}")


def healthcheck_command(service: str, compose: Mapping[str, Any] | None = None) -> list[str]:
    """The compose health check of ``service`` as a command for this machine.

    Image paths become the repository files the Dockerfile copies there, and
    ``python3`` the running interpreter.
    """
    compose = compose if compose is not None else load_compose()
    test = compose["services"][service]["healthcheck"]["test"]
    if not isinstance(test, list) or test[0] != "CMD":
        raise ValueError(f"the health check of {service} is not an exec-form CMD: {test!r}")
    command = []
    for arg in test[1:]:
        if arg == "python3":
            command.append(sys.executable)
        elif arg.startswith("/"):
            command.append(str(local_path(arg)))
        else:
            command.append(arg)
    return command


def addon_dirs(root: Path = REPO_ROOT) -> list[str]:
    """Directories of ``root`` holding an Odoo manifest: the addons, as setup.py and the Dockerfile see them."""
    return sorted(p.name for p in root.iterdir() if (p / "__manifest__.py").is_file())


def environ_without_libpq() -> dict[str, str]:
    env = dict(os.environ)
    for name in ("PGHOST", "PGPORT", "PGUSER", "PGPASSWORD", "PGDATABASE", "ODOO_RC"):
        env.pop(name, None)
    return env
