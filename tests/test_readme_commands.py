"""The README's example commands do something on today's fleet: an example that changes nothing teaches nothing."""
from __future__ import annotations

import re
import shlex

from vllm_models import fleet, toolchain
from vllm_models import render as harness

README = toolchain.ROOT / "README.md"


def upgrade_examples() -> list[list[str]]:
    text = README.read_text().replace("\\\n", " ")
    return [shlex.split(line.split("  #", 1)[0]) for line in text.splitlines()
            if line.startswith(".venv/bin/vllm-models upgrade ")]


def option(command: list[str], name: str) -> str | None:
    return command[command.index(name) + 1] if name in command else None


def test_the_readme_shows_an_upgrade():
    assert upgrade_examples(), "README.md shows no `.venv/bin/vllm-models upgrade` command"


def test_each_readme_upgrade_moves_a_release_to_another_tag():
    for command in upgrade_examples():
        env, release, to = option(command, "--env"), option(command, "--release"), option(command, "--to")
        scope = [rel for rel in harness.model_releases(env) if release is None or rel.name == release]
        assert scope, f"README.md `{shlex.join(command)}`: environment {env} has no installed release {release}"
        current = {rel.name: fleet.image_tag(rel) for rel in scope}
        assert any(tag != to for tag in current.values()), (
            f"README.md `{shlex.join(command)}` changes nothing: environment {env} already runs {to} "
            f"({', '.join(f'{name} {tag}' for name, tag in current.items())}); pick a tag it does not run")
        assert re.fullmatch(r"v[0-9]+\.[0-9]+\.[0-9]+", to)
        assert (toolchain.ROOT / "src" / "vllm_models" / "data" / "vllm" / f"{to}.json").exists(), (
            f"README.md `{shlex.join(command)}`: no committed catalog for {to}")
