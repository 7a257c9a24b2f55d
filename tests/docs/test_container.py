"""The Dockerfile and compose.yaml, as far as they can be checked without a Docker engine.

The image must install and start Argyll with the README's own commands, as a user
that is not root; the compose file must parse and wire two instances to one Redis.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml
from markdown_blocks import blocks

ROOT = Path(__file__).parents[2]
_INSTRUCTION = re.compile(r"^([A-Z]+)\s+(.*)$")


def readme_commands() -> tuple[str, str]:
    """The install command and the serve command of the README's first block."""
    first_line = blocks(ROOT / "README.md")[0].text.splitlines()[0]
    install, serve = (part.strip() for part in first_line.split("#")[0].split("&&"))
    return install, serve


def instructions() -> list[tuple[str, str]]:
    text = (ROOT / "Dockerfile").read_text()
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    return [match.groups() for line in lines if (match := _INSTRUCTION.match(line))]


def test_the_image_installs_with_the_readme_command() -> None:
    install, _ = readme_commands()
    assert install == "pip install -e ."
    runs = [argument for name, argument in instructions() if name == "RUN"]
    assert any(re.fullmatch(r"pip install( --no-cache-dir)? -e \.", run) for run in runs), runs


def test_the_image_serves_with_the_readme_command_as_a_user() -> None:
    _, serve = readme_commands()
    steps = instructions()
    (command,) = [json.loads(argument) for name, argument in steps if name == "CMD"]
    assert " ".join(command).startswith(serve + " "), command
    assert "--host" in command and command[command.index("--host") + 1] == "0.0.0.0"
    users = [argument for name, argument in steps if name == "USER"]
    assert users and users[-1] not in ("root", "0")
    names = [name for name, _ in steps]
    assert names.index("USER") < names.index("CMD")


def test_compose_runs_two_instances_on_one_redis() -> None:
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    services = compose["services"]
    assert services["redis"]["image"].startswith("redis:")
    instances = [service for name, service in services.items() if name != "redis"]
    assert len(instances) == 2
    _, serve = readme_commands()
    for service in instances:
        command = service["command"]
        assert " ".join(command).startswith(serve + " ")
        assert command[command.index("--store") + 1] == "redis://redis:6379/0"
        assert service["build"] == "."
        assert "redis" in service["depends_on"]
    published = sorted(service["ports"][0].split(":")[:2] for service in instances)
    assert published == [["127.0.0.1", "8080"], ["127.0.0.1", "8081"]]
    assert all("--allow-anonymous" in service["command"] for service in instances)
