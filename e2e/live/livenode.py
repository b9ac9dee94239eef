"""What the live tier's fixture and tests share: the environment the node stands for, the node's images, FIGURES."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import cluster as clusters
import images
from vllm_models import fit, toolchain

LIVE_ENV = "development"
FIGURES: dict[str, list] = {}


@dataclasses.dataclass
class Live:
    cluster: clusters.Cluster
    node: str
    pool: fit.Pool


def node_images(bin_dir: Path) -> dict[str, Path]:
    """The pause image (the pod sandbox) and busybox, built or taken from the cache."""
    version = next(t["version"] for t in toolchain.pins()["gotool"] if t["name"] == "kubelet")
    module = bin_dir.parent / "go" / "mod" / f"k8s.io/kubernetes@{version}"
    return dict([images.pause(bin_dir, module), images.busybox(bin_dir)])
