"""One environment on a real control plane: simulated GPU nodes from its node pools, the CRDs, the real
helmfile and helm, and what the tests read back (workloads, pods, events, GPU use).
"""
from __future__ import annotations

import dataclasses
import json
import subprocess
import time
from pathlib import Path
from typing import Iterable

import yaml

import plane as planes
from vllm_models import capacity, fit, toolchain

HERE = Path(__file__).resolve().parent
CRDS = sorted((HERE / "crds").glob("*.yaml"))
KUBECTL = "kubectl-1.33"  # the cluster's own minor (toolchain.toml group e2e)
NAMESPACE = "llms"
FAKE_NODE = {"kwok.x-k8s.io/node": "fake"}


class E2EError(AssertionError):
    """A command the e2e tier runs failed; the message leads with what it was doing."""


@dataclasses.dataclass
class Cluster:
    plane: planes.Plane
    directory: Path

    @property
    def kubeconfig(self) -> str:
        return str(self.directory / "kubeconfig")

    def env(self) -> dict[str, str]:
        env = toolchain.tool_env()
        env["KUBECONFIG"] = self.kubeconfig
        env["HELM_CACHE_HOME"] = str(self.directory / "helm-cache")
        env["HELM_CONFIG_HOME"] = str(self.directory / "helm-config")
        env["HELM_DATA_HOME"] = str(self.directory / "helm-data")
        return env

    def run(self, command: list[str], *, doing: str, cwd: Path | None = None, check: bool = True,
            timeout: float = 600, stdin: str | None = None) -> subprocess.CompletedProcess:
        result = subprocess.run(command, cwd=cwd or toolchain.ROOT, env=self.env(), capture_output=True, text=True,
                                timeout=timeout, input=stdin)
        if check and result.returncode != 0:
            raise E2EError(f"{doing}: `{' '.join(map(str, command[:6]))} ...` exited {result.returncode}:\n"
                           f"{(result.stderr or result.stdout).strip()[-4000:]}")
        return result

    def kubectl(self, *args: str, doing: str = "kubectl", check: bool = True, stdin: str | None = None,
                timeout: float = 300) -> subprocess.CompletedProcess:
        return self.run([toolchain.tool(KUBECTL), *args], doing=doing, check=check, stdin=stdin, timeout=timeout)

    def get(self, kind: str, *, namespace: str | None = NAMESPACE) -> list[dict]:
        scope = ["-n", namespace] if namespace else ["-A"]
        out = self.kubectl("get", kind, *scope, "-o", "json", doing=f"listing {kind}").stdout
        return json.loads(out)["items"]

    # --- setting up ---------------------------------------------------------------------------

    def add_nodes(self, pools: Iterable[fit.Pool]) -> list[str]:
        """One Ready node per node of each pool: GPU product labels, GPU count, allocatable CPU and memory."""
        documents, names = [], []
        for pool in pools:
            for index in range(pool.nodes):
                name = f"{pool.name}-{index}"
                names.append(name)
                resources = {"cpu": capacity.show("cpu", pool.cpu), "memory": capacity.show("memory", pool.memory),
                             "pods": "110", "nvidia.com/gpu": str(pool.gpus_per_node), "ephemeral-storage": "10Ti"}
                documents.append({
                    "apiVersion": "v1", "kind": "Node",
                    "metadata": {"name": name, "annotations": {**FAKE_NODE, "node.alpha.kubernetes.io/ttl": "0"},
                                 "labels": {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux",
                                            "kubernetes.io/arch": "amd64", "type": "kwok", **gpu_labels(pool)}},
                    "spec": {"taints": [GPU_TAINT]},
                    "status": {"capacity": resources, "allocatable": resources}})
        self.kubectl("apply", "-f", "-", stdin=yaml.safe_dump_all(documents), doing="creating the simulated GPU nodes")
        self.kubectl("wait", "--for=condition=Ready", "node", "--all", "--timeout=120s", doing="waiting for the nodes")
        return names

    def install_crds(self) -> None:
        for crd in CRDS:  # server-side: the LWS CRD is too large for client-side apply's annotation
            self.kubectl("apply", "--server-side", "-f", str(crd), doing=f"installing the CRD {crd.name}")
        # Polled rather than `kubectl wait`: a CRD created a moment ago has no status.conditions yet, which
        # kubectl 1.33's wait reports as an error instead of waiting.
        deadline = time.monotonic() + 60
        while True:
            crds = self.get("customresourcedefinitions", namespace=None)
            waiting = [c["metadata"]["name"] for c in crds
                       if not any(cond["type"] == "Established" and cond["status"] == "True"
                                  for cond in (c.get("status") or {}).get("conditions") or [])]
            if not waiting:
                return
            if time.monotonic() > deadline:
                raise E2EError(f"waiting for CRDs: not Established after 60 s: {', '.join(waiting)}")
            time.sleep(0.5)

    def helmfile(self, env: str, command: str = "apply", *, root: Path | None = None, check: bool = True,
                 extra: Iterable[str] = (), doing: str | None = None) -> subprocess.CompletedProcess:
        root = root or toolchain.ROOT
        return self.run([toolchain.tool("helmfile"), "--file", str(root / "helmfile.yaml.gotmpl"), "-e", env, command,
                         *extra], cwd=root, doing=doing or f"helmfile -e {env} {command}", check=check, timeout=900)

    # --- reading back -------------------------------------------------------------------------

    def wait_available(self, timeout: float = 240) -> list[str]:
        """Wait until every Deployment of the namespace is Available with all its replicas updated and ready;
        the ones that are not when time runs out, with the reason the cluster gives."""
        deadline = time.monotonic() + timeout
        while True:
            waiting = [d for d in self.get("deployments") if not rolled_out(d)]
            if not waiting or time.monotonic() > deadline:
                break
            time.sleep(1)
        return [f"Deployment {d['metadata']['name']}: {why_waiting(self, d)}" for d in waiting]

    def gpus_requested(self) -> int:
        """GPUs held by the namespace's pods that exist (scheduled or pending), as the quota counts them."""
        return sum(pod_gpus(p) for p in self.get("pods") if p["status"].get("phase") not in ("Succeeded", "Failed"))

    def pending(self) -> list[str]:
        return [p["metadata"]["name"] for p in self.get("pods") if p["status"].get("phase") == "Pending"]

    def warnings(self, name: str) -> list[str]:
        return [e.get("message", "") for e in self.get("events") if e.get("type") == "Warning"
                and e["involvedObject"].get("name", "").startswith(name)]


GPU_TAINT = {"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}


def gpu_labels(pool: fit.Pool) -> dict[str, str]:
    """The labels a GPU node of the pool carries (as NVIDIA's GPU feature discovery sets them)."""
    return {"nvidia.com/gpu.present": "true", "nvidia.com/gpu.product": pool.product,
            "nvidia.com/gpu.count": str(pool.gpus_per_node),
            "nvidia.com/gpu.memory": str(fit.product(pool.product)["memoryMiB"])}


def pod_gpus(pod: dict) -> int:
    return sum(int(((c.get("resources") or {}).get("requests") or {}).get("nvidia.com/gpu", 0))
               for c in pod["spec"]["containers"])


def rolled_out(deployment: dict) -> bool:
    spec, status = deployment["spec"], deployment.get("status") or {}
    wanted = spec.get("replicas", 1)
    conditions = {c["type"]: c["status"] for c in status.get("conditions") or []}
    return (status.get("observedGeneration", 0) >= deployment["metadata"]["generation"]
            and status.get("updatedReplicas", 0) == wanted and status.get("readyReplicas", 0) == wanted
            and status.get("replicas", 0) == wanted and conditions.get("Available") == "True")


def why_waiting(cluster: Cluster, deployment: dict) -> str:
    status = deployment.get("status") or {}
    conditions = "; ".join(f"{c['type']}={c['status']} {c.get('reason', '')}: {c.get('message', '')}"
                           for c in status.get("conditions") or [])
    events = cluster.warnings(deployment["metadata"]["name"])[-3:]
    return (f"{status.get('readyReplicas', 0)}/{deployment['spec'].get('replicas', 1)} ready, "
            f"{status.get('updatedReplicas', 0)} updated; {conditions}" + (f"; events: {' | '.join(events)}" if events else ""))


def start(directory: Path) -> Cluster:
    directory.mkdir(parents=True, exist_ok=True)
    return Cluster(planes.up(directory, tie=True), directory)
