"""End-to-end harness for the `vllm-models` CLI tests: a temporary copy of the repository's inputs.

The CLI runs as a subprocess with VLLM_MODELS_ROOT pointing at the copy, so it reads and writes only
there; the pinned tools stay in the real .tools/bin and the render cache lives in the copy's .render.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

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


def described(result: subprocess.CompletedProcess) -> str:
    return f"exit {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"



def set_gpu_quota(root: Path, env: str, gpus: int) -> None:
    """Set environments/<env>/values.yaml namespace.quota requests.nvidia.com/gpu to `gpus` in the copy."""
    import re
    path = root / f"environments/{env}/values.yaml"
    text, count = re.subn(r"(\n    requests\.nvidia\.com/gpu: )\S+", rf"\g<1>{gpus}", path.read_text())
    assert count == 1, f"{path}: expected one namespace.quota requests.nvidia.com/gpu line"
    path.write_text(text)
