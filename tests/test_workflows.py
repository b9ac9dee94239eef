"""Every workflow the README documents leaves the suite green: run it in a copy, then the fleet tests there.

The commands are read from the README's own code blocks (the lines that start `.venv/bin/vllm-models
new-model`, `promote` or `upgrade`), so the documentation and this test cannot drift apart; the variables
they name (`$IMAGE_DIGEST`: what the user reads from the registry) get well-formed test values. The copy
holds the repository's files (the pinned tools and the virtual environment are linked, not copied); after
the workflow, `pytest -m fleet` runs there: every test that reads the environments (the fleet rules, the
fit and placement, the policies, the golden renders, each test run over every installed release).

The same copy then walks the property behind the README's example: a model of every shape (new-model
--shape) enters the chain where new-model may add it (an environment whose images need no digest), is
promoted along fleet.yaml's promotionOrder to the last environment, and the starting environments are
upgraded to the newest catalogued vLLM; new-model into an environment that pins digests refuses and
writes nothing. The fleet tests run once, after all of it.
"""
from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from cli_repo import ROOM, SHAPES, copy_repository, environ, make_gpu_room, snapshot, unused_model_name

from vllm_models import promote, vllm_args
from vllm_models import render as harness
from vllm_models import toolchain

ROOT = toolchain.ROOT
COPIED = ("charts", "docs", "environments", "policies", "scripts", "src", "tests", "helmfile.yaml.gotmpl", "Makefile",
          "pyproject.toml", "toolchain.toml", "README.md", "CONTRIBUTING.md",  # every document a collected test reads
          *harness.fleet_data().get("testEnvironments", {}).values())  # the helmfile's test-tier environments
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


def copy_environ(root: Path) -> dict[str, str]:
    """The copy runs its own package, as its tests do."""
    return environ(root) | {"PYTHONPATH": str(root / "src")}


def run_in(root: Path, command: list[str]) -> subprocess.CompletedProcess:
    """`vllm-models COMMAND...` in the copy; asserts it exits 0, naming the command and what it printed."""
    result = subprocess.run([sys.executable, "-m", "vllm_models.cli", *command], cwd=root, env=copy_environ(root),
                            capture_output=True, text=True)
    assert result.returncode == 0, (f"`vllm-models {shlex.join(command)}` exited {result.returncode} in the copy:\n"
                                    f"{result.stdout}\n{result.stderr}")
    return result


CHAIN = harness.environments()  # environments/fleet.yaml promotionOrder
DIGESTS = ["--image-digest", VARIABLES["IMAGE_DIGEST"], "--test-image-digest", VARIABLES["TEST_IMAGE_DIGEST"]]
# new-model takes no digests, so a model enters the chain where images need none and reaches production by promote.
STARTS = [env for env in CHAIN if not promote.pins_digests(env)]


def journeys() -> list[tuple[str, tuple[str, str, list[str]]]]:
    """(start, shape): every shape once, the starting environments taken in turn, so each start and each shape
    is walked (derive, do not multiply: one model per shape, not one per shape and start)."""
    return [(STARTS[index % len(STARTS)], shape) for index, shape in enumerate(SHAPES)]


def test_every_start_and_every_shape_is_walked():
    walked = journeys()
    assert {start for start, _ in walked} == set(STARTS) and [shape for _, shape in walked] == SHAPES, walked
    assert STARTS and STARTS == CHAIN[:len(STARTS)], f"promotionOrder {CHAIN}: digest-free environments first"


@pytest.mark.slow
def test_the_readme_workflow_then_a_model_of_every_shape_promoted_along_the_chain_leave_the_fleet_tests_green(
        tmp_path):
    # One copy and one run of the fleet tests after every documented workflow (derive, do not multiply).
    root = copy_of_the_repository(tmp_path)
    commands = readme_workflow()
    for env in CHAIN:
        make_gpu_room(root, env, ROOM * (len(SHAPES) + 1))
    # Someone who followed the README has the example's model already: the copy adds it again under a free name.
    example = next(command[2] for command in commands if command[1] == "new-model")
    name = unused_model_name(root, example)
    for command in [[name if word == example else word for word in command] for command in commands]:
        run_in(root, command[1:])
    done = [f"the README workflow ({name})"]
    for start, (shape, example, arguments) in journeys():
        name = unused_model_name(root, example)
        run_in(root, ["new-model", name, "--env", start, "--shape", shape, *arguments])
        chain = CHAIN[CHAIN.index(start):]
        for source, target in zip(chain, chain[1:]):
            run_in(root, ["promote", name, "--from", source, "--to", target,
                          *(DIGESTS if promote.pins_digests(target) else [])])
        done.append(f"{shape} {name} from {start}")
    newest = f"v{vllm_args.available_versions()[-1]}"
    for env in STARTS:  # what a user runs next: the environment moved to the newest vLLM the catalogs know
        run_in(root, ["upgrade", "--env", env, "--to", newest])
    done.append(f"upgrade of {', '.join(STARTS)} to {newest}")
    before = snapshot(root)
    for env in [env for env in CHAIN if env not in STARTS]:
        shape, example, arguments = SHAPES[0]
        name = unused_model_name(root, example)
        refused = subprocess.run([sys.executable, "-m", "vllm_models.cli", "new-model", name, "--env", env, "--shape",
                                  shape, *arguments], cwd=root, env=copy_environ(root), capture_output=True, text=True)
        assert refused.returncode == 2 and "[image_digest]" in refused.stderr and snapshot(root) == before, (
            f"new-model {name} --env {env}: a production model comes by promote, which pins its digests; new-model "
            f"must refuse, writing nothing (exit {refused.returncode}):\n{refused.stdout}\n{refused.stderr}")
    suite = subprocess.run([sys.executable, "-m", "pytest", "-q", "-m", "fleet", "-p", "no:cacheprovider", "-x",
                            "-n", "2"], cwd=root, env=copy_environ(root), capture_output=True, text=True)
    tail = "\n".join((suite.stdout + suite.stderr).splitlines()[-40:])
    assert suite.returncode == 0, f"the fleet tests fail in a copy after {'; '.join(done)}:\n{tail}"
