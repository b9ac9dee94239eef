"""Every workflow the README documents leaves the suite green: run it in a copy, then the fleet tests there.

The commands are read from the README's own code blocks (the lines that start `.venv/bin/vllm-models
new-model`, `promote` or `upgrade`), so the documentation and this test cannot drift apart; the variables
they name (`$IMAGE_DIGEST`: what the user reads from the registry) get well-formed test values. The copy
holds the repository's files (the pinned tools and the virtual environment are linked, not copied); after
the workflow, `pytest -m fleet` runs there: every test that reads the environments (the fleet rules, the
fit and placement, the policies, the golden renders, each test run over every installed release).
"""
from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from cli_repo import copy_repository, environ, make_gpu_room, unused_model_name

from vllm_models import render as harness
from vllm_models import toolchain

ROOT = toolchain.ROOT
COPIED = ("charts", "docs", "environments", "policies", "scripts", "src", "tests", "helmfile.yaml.gotmpl", "Makefile",
          "pyproject.toml", "toolchain.toml", "README.md", "CONTRIBUTING.md")  # every document a collected test reads
WORKFLOW = re.compile(r"^\.venv/bin/vllm-models (new-model|promote|upgrade)\b")
CONFIG = ROOT / "tests" / "fixtures" / "hf_configs" / "llama-3.1-70b-instruct.json"
# Test data: the README's commands read real digests from the registry, which these machines cannot reach.
VARIABLES = {"IMAGE_DIGEST": "sha256:" + "0123456789abcdef" * 4, "TEST_IMAGE_DIGEST": "sha256:" + "fedcba9876543210" * 4}


def readme_workflow() -> list[list[str]]:
    """The README's workflow commands in order, continuation lines joined, comments dropped."""
    text = (ROOT / "README.md").read_text().replace("\\\n", " ")
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", text, re.S):
        for line in block.splitlines():
            line = line.split("  #", 1)[0].strip()
            if WORKFLOW.match(line):
                commands.append([re.sub(r"\$(\w+)", lambda m: VARIABLES[m.group(1)], word) for word in shlex.split(line)])
    return commands


def copy_of_the_repository(tmp_path: Path) -> Path:
    root = copy_repository(tmp_path, COPIED, folder="copy")
    for linked in (".tools", ".venv"):
        (root / linked).symlink_to(ROOT / linked)
    shutil.copy2(CONFIG, root / "config.json")  # the README's --hf-config config.json
    return root


def test_the_readme_documents_the_new_model_and_promote_workflow():
    verbs = [command[1] for command in readme_workflow()]
    assert verbs[:2] == ["new-model", "promote"], f"README.md workflow commands: {verbs}"


@pytest.mark.slow
def test_each_readme_workflow_leaves_the_fleet_tests_green_in_a_copy(tmp_path):
    root = copy_of_the_repository(tmp_path)
    env = environ(root) | {"PYTHONPATH": str(root / "src")}  # the copy runs its own package, as its tests do
    commands = readme_workflow()
    # Someone who followed the README has the example's model already: the copy adds it again under a free
    # name, with room for it in the quotas of the environments the workflow touches.
    example = next(command[2] for command in commands if command[1] == "new-model")
    name = unused_model_name(root, example)
    for touched in sorted({word for command in commands for word in command} & set(harness.environments())):
        make_gpu_room(root, touched)
    for command in [[name if word == example else word for word in command] for command in commands]:
        result = subprocess.run([sys.executable, "-m", "vllm_models.cli", *command[1:]], cwd=root, env=env,
                                capture_output=True, text=True)
        assert result.returncode == 0, (f"README workflow `{shlex.join(command)}` exited {result.returncode}:\n"
                                        f"{result.stdout}\n{result.stderr}")
    suite = subprocess.run([sys.executable, "-m", "pytest", "-q", "-m", "fleet", "-p", "no:cacheprovider", "-x",
                            "-n", "2"], cwd=root, env=env, capture_output=True, text=True)
    tail = "\n".join((suite.stdout + suite.stderr).splitlines()[-40:])
    assert suite.returncode == 0, f"the fleet tests fail in a copy after the README workflow:\n{tail}"
