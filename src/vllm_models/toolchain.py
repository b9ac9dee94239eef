"""Where the project's pinned tools and files are; the pins themselves live in toolchain.toml."""
from __future__ import annotations

import functools
import os
import tomllib
from pathlib import Path

ROOT = Path(os.environ.get("VLLM_MODELS_ROOT", Path(__file__).resolve().parents[2]))
TOOLS_BIN = Path(__file__).resolve().parents[2] / ".tools" / "bin"
CHART_DIR = ROOT / "charts" / "vllm-models"
ENVIRONMENTS_DIR = ROOT / "environments"
HELMFILE = ROOT / "helmfile.yaml.gotmpl"


class ToolMissing(Exception):
    """A pinned tool is not installed; `make setup` installs it."""


@functools.lru_cache(maxsize=None)
def pins() -> dict:
    return tomllib.loads((Path(__file__).resolve().parents[2] / "toolchain.toml").read_text())


def kube_version() -> str:
    """The Kubernetes version every render targets unless a test asks for another."""
    return os.environ.get("VLLM_MODELS_KUBE_VERSION", pins()["kubernetes"]["version"])


def tool(name: str) -> str:
    """Absolute path of a pinned binary in .tools/bin (helm3, helm4, helmfile, kubectl)."""
    path = TOOLS_BIN / name
    if not path.exists():
        raise ToolMissing(f"{path} is missing: run `make setup` to install the pinned toolchain")
    return str(path)


# helm, helmfile, conftest and promtool run here as short-lived Go processes: garbage collection costs a
# third of a render's CPU and frees nothing that matters (~75 MB peak); the limit keeps a runaway bounded.
# One OS thread each: they run one per core side by side already, and idle threads spinning on the other
# core cost a two-core machine ~15% of every render (measured with two helm processes at a time).
GO_RUNTIME = {"GOGC": "off", "GOMEMLIMIT": "1GiB", "GOMAXPROCS": "1"}


def tool_env() -> dict[str, str]:
    """Environment for helm/helmfile: pinned tools first on PATH, no user helm config leaking in."""
    env = dict(os.environ)
    env["PATH"] = f"{TOOLS_BIN}{os.pathsep}{env.get('PATH', '')}"
    # helmfile runs `helm` from PATH: .tools/bin/helm is helm v4. `helmfile diff/apply` need helm-diff.
    env.setdefault("HELM_PLUGINS", str(TOOLS_BIN.parent / "helm-plugins"))
    env.setdefault("HELMFILE_UPGRADE_NOTICE_DISABLED", "true")
    # helm-diff 3.13.2 (the newest the Go proxy serves) passes helm v4 both --validate and --dry-run, which helm v4
    # refuses (databus23/helm-diff#878); diffing through `helm upgrade --dry-run` avoids the pair.
    env.setdefault("HELM_DIFF_USE_UPGRADE_DRY_RUN", "true")
    env.setdefault("HELM_CACHE_HOME", str(ROOT / ".render" / "helm-cache"))
    env.setdefault("HELM_CONFIG_HOME", str(ROOT / ".render" / "helm-config"))
    env.setdefault("HELM_DATA_HOME", str(ROOT / ".render" / "helm-data"))
    for key, value in GO_RUNTIME.items():
        env.setdefault(key, value)
    return env
