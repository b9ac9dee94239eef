"""The PR workflow does on a hosted runner what .ci/run does here, and actionlint (pinned, built by setup) accepts it."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import yaml

from vllm_models import toolchain

ROOT = toolchain.ROOT
WORKFLOW = ROOT / ".github" / "workflows" / "pr.yml"
ACTIONLINT = ROOT / ".tools" / "bin" / "actionlint"


def actionlint(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(ACTIONLINT), "-no-color", str(path)], capture_output=True, text=True)


def steps() -> list[dict]:
    return yaml.safe_load(WORKFLOW.read_text())["jobs"]["test"]["steps"]


def test_actionlint_accepts_every_workflow():
    for path in sorted((ROOT / ".github" / "workflows").glob("*.y*ml")):
        result = actionlint(path)
        assert result.returncode == 0, f"actionlint {path.relative_to(ROOT)}:\n{result.stdout}{result.stderr}"


def test_actionlint_refuses_a_workflow_with_an_unknown_expression(tmp_path):
    broken = tmp_path / "broken.yml"
    broken.write_text(WORKFLOW.read_text().replace("${{ github.ref }}", "${{ github.nosuchkey }}"))
    result = actionlint(broken)
    assert result.returncode == 1 and "nosuchkey" in result.stdout, result.stdout + result.stderr


def test_ci_runs_the_readme_test_command_then_the_e2e_and_live_tiers():
    commands = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()
                if line.strip().startswith("make ")]
    assert commands == ["make test", "make e2e", "make live"], f".ci/run runs {commands}"
    assert "make test" in (ROOT / "README.md").read_text()


def test_the_workflow_runs_ci_run_with_the_go_node_and_python_the_tools_need():
    uses = {step["uses"].split("@")[0]: step.get("with", {}) for step in steps() if "uses" in step}
    go_wanted = max((tuple(int(p) for p in m.group(1).split("."))
                     for mod in (ROOT / "tools" / "go").glob("*/go.mod")
                     for m in [re.search(r"^go (\S+)$", mod.read_text(), re.M)] if m))
    go_set = tuple(int(p) for p in str(uses["actions/setup-go"]["go-version"]).split("."))
    assert go_set >= go_wanted, f"pr.yml sets up Go {go_set}; tools/go/*/go.mod need {go_wanted}"
    assert "actions/setup-node" in uses and "actions/setup-python" in uses, f"pr.yml uses {sorted(uses)}"
    assert any(step.get("run", "").strip() == "bash .ci/run" for step in steps()), "pr.yml does not run .ci/run"


def test_the_tool_cache_key_covers_every_input_of_a_tool_build():
    cache = next(step["with"] for step in steps() if step.get("uses", "").startswith("actions/cache@"))
    # A hosted runner sets neither VLLM_MODELS_CACHE nor XDG_CACHE_HOME: setup's cache is then below HOME.
    runner_home = "/home/runner"
    cached = subprocess.run([sys.executable, str(ROOT / "scripts" / "install_tools.py"), "--print-cache"],
                            capture_output=True, text=True, env={"HOME": runner_home}).stdout.strip()
    paths = [path.replace("~", runner_home, 1) for path in cache["path"].split()]
    assert cached in paths, f"pr.yml caches {cache['path'].split()}, setup's per-user cache on a runner is {cached}"
    for pinned in ("toolchain.toml", "tools/go/**/go.sum", "requirements.lock", "scripts/install_tools.py"):
        assert f"'{pinned}'" in cache["key"], f"pr.yml cache key {cache['key']} ignores {pinned}"
