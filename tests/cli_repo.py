"""End-to-end harness for the `vllm-models` CLI tests: a temporary copy of the repository's inputs.

The CLI runs as a subprocess with VLLM_MODELS_ROOT pointing at the copy, so it reads and writes only
there; the pinned tools stay in the real .tools/bin, and the copy shares the repository's render cache
(keyed by content, so it reruns only what its edits change) unless a test gives it its own.
"""
from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from vllm_models.capacity import QUOTA_RESOURCES, quantity

REPOSITORY = Path(__file__).resolve().parents[1]
COPIED = ("environments", "charts", "policies", "helmfile.yaml.gotmpl")


def copy_repository(tmp_path: Path, names: tuple[str, ...] = COPIED, folder: str = "repo") -> Path:
    """tmp_path/folder holding a copy of the repository's `names` (the CLI's inputs unless told)."""
    root = tmp_path / folder
    root.mkdir()
    for name in names:
        source = REPOSITORY / name
        if source.is_dir():
            shutil.copytree(source, root / name, ignore=shutil.ignore_patterns("*.tmp", "__pycache__", "*.egg-info"))
        elif source.exists():
            shutil.copy2(source, root / name)
    return root


# Renders are cached by content, not path (vllm_models.render), so a copy reuses what the suite already
# rendered and runs helm only for the releases its edits change. A test that counts the helm runs of
# one command gives the copy a cache of its own (cache=own_cache(root)).
SHARED_CACHE = REPOSITORY / ".render" / "cache"


def own_cache(root: Path) -> Path:
    return root / ".render" / "cache"


def environ(root: Path, *, cache: Path = SHARED_CACHE) -> dict[str, str]:
    return dict(os.environ, VLLM_MODELS_ROOT=str(root), PYTHONPATH=str(REPOSITORY / "src"),
                VLLM_MODELS_RENDER_CACHE=str(cache))


def run(root: Path, *args: str, cache: Path = SHARED_CACHE) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "vllm_models.cli", *args], cwd=root,
                          env=environ(root, cache=cache), capture_output=True, text=True)


def run_json(root: Path, *args: str, cache: Path = SHARED_CACHE) -> tuple[int, dict]:
    result = run(root, *args, "--output", "json", cache=cache)
    try:
        return result.returncode, json.loads(result.stdout)
    except ValueError:
        raise AssertionError(f"vllm-models {' '.join(args)} --output json printed no JSON (exit "
                             f"{result.returncode}):\nstdout: {result.stdout}\nstderr: {result.stderr}") from None


def plant_copy_of(root, env: str, source: str, name: str, port: int) -> str:
    """A second, enabled model in env made from `source`'s file, on `port`; returns its repo path."""
    source_file = root / f"environments/{env}/language/{source}.yaml"
    text = source_file.read_text()
    served = next(line.split(":", 1)[1].strip() for line in text.splitlines() if "servedModelName:" in line)
    original_port = next(line.split(":", 1)[1].strip() for line in text.splitlines() if "nodePort:" in line)
    text = (text.replace(f"llms-v2-{source}", f"llms-v2-{name}").replace(f"modelName: {source}", f"modelName: {name}")
            .replace(f"servedModelName: {served}", f"servedModelName: {name}")
            .replace(f"nodePort: {original_port}", f"nodePort: {port}"))
    (root / f"environments/{env}/language/{name}.yaml").write_text(text)
    values = root / f"environments/{env}/values.yaml"
    values.write_text(values.read_text().replace("  models:\n", f"  models:\n    {name}:\n      enabled: true\n", 1))
    return f"environments/{env}/language/{name}.yaml"


def fleet_problems(root: Path, env: str) -> list[str]:
    """The fleet rules of one environment and those across environments (vllm_models.fleet), over the copy.

    toolchain.ROOT is read at import, so they run in a fresh process."""
    code = ("import json, sys; from vllm_models import fleet; "
            "print(json.dumps(fleet.check_environment(sys.argv[1]) + fleet.check_across_environments()))")
    result = subprocess.run([sys.executable, "-c", code, env], cwd=root, capture_output=True, text=True,
                            env=environ(root))
    assert result.returncode == 0, f"fleet checks of {env} failed to run on the copy:\n{result.stderr}"
    return json.loads(result.stdout)


def cached(cache: Path, kind: str = "helm-template") -> set[str]:
    """The runs of `kind` (helm-template, helmfile-build) recorded in a render cache, one file per distinct input."""
    return {p.name for p in cache.glob(f"{kind}-*.json")} if cache.exists() else set()


def snapshot(root: Path) -> dict[str, str]:
    """Every file the CLI may write in the copy: the environments, the policies' exceptions, the golden renders."""
    return {str(p.relative_to(root)): p.read_text() for folder in ("environments", "policies", "tests")
            if (root / folder).exists() for p in sorted((root / folder).rglob("*")) if p.is_file()}


PROGRESS = re.compile(r"^vllm-models: .*( \.\.\.|: (done in|stopped after) [0-9.]+s)$")


def said(result: subprocess.CompletedProcess) -> str:
    """What the command said on stderr, without the progress lines slow work prints (`vllm-models: LABEL ...`)."""
    return "".join(line for line in result.stderr.splitlines(keepends=True) if not PROGRESS.match(line.rstrip("\n")))


def described(result: subprocess.CompletedProcess) -> str:
    return f"exit {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"


def peak_gpus(root: Path, env: str) -> int:
    """The GPUs env's enabled releases request at peak (rollouts included), as `vllm-models plan` counts them."""
    code, plan = run_json(root, "plan", "--env", env)
    return int(plan["peak"]["requests.nvidia.com/gpu"])


# More than any model the CLI tests add needs at peak: a 70B model on four GPUs, four more for its rollout.
ROOM = 16


def make_gpu_room(root: Path, env: str, gpus: int = ROOM) -> None:
    """Leave `gpus` GPUs free in env's quota and on each of its node pools in the copy, whatever env runs today
    (a model added as the README says takes GPUs and node room a test's own model would otherwise find missing),
    and with them the CPU, memory and pods those GPUs bring: each GPU's share of the roomiest node pool."""
    _, plan = run_json(root, "plan", "--env", env)
    pools = yaml.safe_load((root / f"environments/{env}/values.yaml").read_text())["nodePools"]
    per_gpu = {resource: max(quantity(pool[resource]) / pool["gpusPerNode"] for pool in pools)
               for resource in ("cpu", "memory")} | {"nvidia.com/gpu": 1, "pods": 1}
    for key, peak in plan["peak"].items():
        resource = QUOTA_RESOURCES.get(key, (None, key))[1]
        room = math.ceil((quantity(peak) + gpus * per_gpu[resource]) / (2**30 if resource == "memory" else 1))
        set_quota(root, env, key, f"{room}Gi" if resource == "memory" else json.dumps(str(room)) if resource == "cpu"
                  else room)
    add_nodes(root, env, gpus)


def add_nodes(root: Path, env: str, gpus: int) -> None:
    """Give each node pool of env (values.yaml nodePools) enough nodes more to hold `gpus` GPUs, in the copy."""
    path = root / f"environments/{env}/values.yaml"
    text = path.read_text()
    start = text.index("\nnodePools:\n")
    following = re.search(r"\n\S", text[start + 1:])
    end = start + 1 + following.start() if following else len(text)
    pools = yaml.safe_load(text[start:end])["nodePools"]
    counts = iter(pool["nodes"] + -(-gpus // pool["gpusPerNode"]) for pool in pools)
    block, found = re.subn(r"(\n    nodes: )\d+", lambda m: f"{m.group(1)}{next(counts)}", text[start:end])
    assert found == len(pools), f"{path}: expected a `nodes:` line in each of the {len(pools)} nodePools"
    path.write_text(text[:start] + block + text[end:])


def unused_model_name(root: Path, name: str) -> str:
    """`name`, or `name-2`, `name-3`...: the first no environment of the copy has a model file for (a model
    added as the README says may have taken the name a test wants)."""
    taken = {path.stem for path in (root / "environments").glob("*/*/*.yaml")}
    candidates = [name] + [f"{name}-{n}" for n in range(2, len(taken) + 3)]
    return next(candidate for candidate in candidates if candidate not in taken)



CONFIGS = REPOSITORY / "tests" / "fixtures" / "hf_configs"


def model(org: str, config: str) -> list[str]:
    """--model-path and --hf-config for a checkpoint whose config.json is a fixture."""
    return ["--model-path", f"/models/{org}/{config}", "--hf-config", str(CONFIGS / f"{config}.json")]


# One model per seed template (new-model --shape): (shape, name, new-model's other arguments); each model's
# facts come from its config.json, its GPUs from the fit.
SHAPES = [
    ("single-gpu", "mistral-7b-instruct", model("mistralai", "mistral-7b-instruct")),
    ("multi-gpu", "llama-3-1-70b-instruct", model("meta-llama", "llama-3.1-70b-instruct")),
    ("vision", "qwen2-5-vl-7b-instruct", model("Qwen", "qwen2.5-vl-7b-instruct")),
    ("moe", "qwen3-30b-a3b", [*model("Qwen", "qwen3-30b-a3b"), "--tp", "2"]),
    ("function-calling", "hermes-3-8b", model("NousResearch", "llama-3.1-8b-instruct")),
    ("lmcache", "qwen3-8b-lmcache", model("Qwen", "qwen3-8b")),
]

def set_gpu_quota(root: Path, env: str, gpus: int) -> None:
    """Set environments/<env>/values.yaml namespace.quota requests.nvidia.com/gpu to `gpus` in the copy."""
    set_quota(root, env, "requests.nvidia.com/gpu", gpus)


def set_quota(root: Path, env: str, key: str, value) -> None:
    """Set environments/<env>/values.yaml namespace.quota `key` to `value` (written as given) in the copy."""
    path = root / f"environments/{env}/values.yaml"
    text, count = re.subn(rf"(\n    {re.escape(key)}: )\S+", lambda m: f"{m.group(1)}{value}", path.read_text())
    assert count == 1, f"{path}: expected one namespace.quota {key} line"
    path.write_text(text)
