"""What the live tier's fixture and tests share: the environment the node belongs to, the node's images, FIGURES."""
from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

import cluster as clusters
import images
import node as nodes
from vllm_models import fit, render, toolchain

# The helmfile environment of the live tier (environments/fleet.yaml testEnvironments): its node pool is the node.
LIVE_ENV = "live"
ENVIRONMENT = toolchain.ROOT / render.fleet_data()["testEnvironments"][LIVE_ENV]
FIGURES: dict[str, list] = {}


@dataclasses.dataclass
class Live:
    cluster: clusters.Cluster
    node: str
    pool: fit.Pool


def join(cluster: clusters.Cluster, more_images: dict[str, Path] | None = None) -> Live:
    """One real node of LIVE_ENV's first GPU pool joined to `cluster`'s plane, Ready, with the pause and busybox
    images and `more_images` (name: archive) in its containerd, from the per-user image store (imported once per
    machine); its start-up figures go to FIGURES."""
    pool = fit.node_pools(LIVE_ENV, yaml.safe_load((ENVIRONMENT / "values.yaml").read_text()))[0]
    name = f"{pool.name}-live-0"
    started = time.monotonic()
    wanted = node_images(cluster.plane.bin) | (more_images or {})
    FIGURES.setdefault("images built or cached (s)", []).append(round(time.monotonic() - started, 1))
    nodes.join(cluster.plane, name, clusters.gpu_labels(pool), [clusters.GPU_TAINT], pool.gpus_per_node, wanted,
               stores=images.STORES)
    timings = cluster.plane.state["timings"]
    for key in ("containerd_ready_s", "image_store_built_s", "images_from", "images_import_s", "kubelet_to_ready_s",
                "node_total_s"):
        FIGURES.setdefault(key, []).append(timings.get(key))
    return Live(cluster, name, pool)


def node_images(bin_dir: Path) -> dict[str, Path]:
    """The pause image (the pod sandbox) and busybox, built or taken from the cache."""
    return dict([images.pause(bin_dir, kubernetes_source()), images.busybox(bin_dir)])


def kubernetes_source() -> Path:
    """The kubelet's k8s.io/kubernetes module source (pause.c is in it), from the per-user cache's Go module
    cache: already there when the kubelet was built from it, downloaded from the Go module proxy when the
    kubelet came from a release archive."""
    version = next(t["version"] for t in toolchain.pins()["gotool"] if t["name"] == "kubelet")
    cache = subprocess.run([sys.executable, str(toolchain.ROOT / "scripts" / "install_tools.py"), "--print-cache"],
                           capture_output=True, text=True, check=True).stdout.strip()
    env = dict(os.environ, GOMODCACHE=str(Path(cache) / "go" / "mod"), GOFLAGS="-mod=mod")
    result = subprocess.run(["go", "mod", "download", "-json", f"k8s.io/kubernetes@{version}"], capture_output=True,
                            text=True, env=env, cwd=tempfile.gettempdir())
    if result.returncode != 0:
        raise RuntimeError(f"the live node's pause image needs k8s.io/kubernetes@{version}'s source: `go mod download` "
                           f"exited {result.returncode}:\n{(result.stderr or result.stdout).strip()[-2000:]}")
    return Path(json.loads(result.stdout)["Dir"])
