"""The chart's own release of the tiny model runs on the live node: installed by helm from the chart, Ready
through the chart's probes, answering as vLLM, under the chart's security context.

One release for the module (fixture `served`): a vLLM start is the expensive part, and every test here reads
the same running pod. Its values are e2e/live/tiny-llama.yaml; the image (e2e/live/build.py vllm-image) and
the tiny model (build.py model) are built once per machine and cached by content.
"""
from __future__ import annotations

import dataclasses
import json
import shutil
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml

import build
import cluster as clusters
import node as nodes
from livenode import FIGURES, LIVE_ENV, node_images
from vllm_models import fit, toolchain

HERE = Path(__file__).resolve().parent
VALUES = HERE / "tiny-llama.yaml"
NAMESPACE = "live"
SPEC = yaml.safe_load(VALUES.read_text())
RELEASE = SPEC["fullnameOverride"]
MODELS = Path(SPEC["hps"]["models"]["path"])  # the release's hostPath: the node's model directory


@dataclasses.dataclass
class Served:
    cluster: clusters.Cluster
    node: str
    pod: dict
    seconds_to_ready: float

    @property
    def where(self) -> str:
        return (f"environment {LIVE_ENV} (live node {self.node}), release {RELEASE}, "
                f"pod {NAMESPACE}/{self.pod['metadata']['name']}, container vllm")

    @property
    def base(self) -> str:
        """The release's NodePort on the node's address: the way a client of the fleet reaches a model."""
        return f"http://{nodes.NODE_IP}:{SPEC['service']['nodePort']}"

    def exec(self, script: str, *, check: bool = True) -> str:
        result = self.cluster.kubectl("exec", "-n", NAMESPACE, self.pod["metadata"]["name"], "-c", "vllm", "--",
                                      "/bin/sh", "-c", script, doing=f"{self.where}: running `{script}`", check=check)
        return result.stdout


def call(url: str, body: dict | None = None, timeout: float = 120) -> tuple[int, dict | str]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            text = response.read().decode()
            status = response.status
    except urllib.error.HTTPError as error:
        text, status = error.read().decode(), error.code
    try:
        return status, json.loads(text)
    except ValueError:
        return status, text


def place_model(model: Path) -> None:
    """The tiny model in the release's hostPath directory, readable by the chart's UID 2000 (no write needed:
    vLLM mounts it read-only)."""
    target = MODELS / Path(SPEC["deployment"]["model"]).relative_to(SPEC.get("storage", {}).get("mountPath", "/models"))
    shutil.rmtree(MODELS, ignore_errors=True)
    shutil.copytree(model, target)
    for path in [MODELS.parent, *MODELS.parent.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Served:
    """A plane with the live node, the vLLM image imported, and the release installed by helm, Ready."""
    started = time.monotonic()
    image, model = build.build_image("vllm"), build.build_model()
    FIGURES.setdefault("vLLM image and tiny model built or cached (s)", []).append(round(time.monotonic() - started, 1))
    cluster = clusters.start(tmp_path_factory.mktemp("plane"))
    try:
        pool = fit.node_pools(LIVE_ENV)[0]
        name = f"{pool.name}-live-0"
        wanted = node_images(cluster.plane.bin) | {build.IMAGES["vllm"]["name"]: image}
        nodes.join(cluster.plane, name, clusters.gpu_labels(pool), [clusters.GPU_TAINT], pool.gpus_per_node, wanted)
        FIGURES.setdefault("vLLM image import (s)", []).append(cluster.plane.state["timings"].get("images_import_s"))
        place_model(model)
        installed = time.monotonic()
        cluster.run([toolchain.tool("helm"), "install", RELEASE, str(toolchain.ROOT / "charts" / "vllm-models"),
                     "--namespace", NAMESPACE, "--create-namespace", "-f", str(VALUES)],
                    doing=f"helm install {RELEASE} into environment {LIVE_ENV}'s live node")
        budget = int(SPEC["slowStart"]["maxStartupSeconds"])
        rolled = cluster.kubectl("rollout", "status", "-n", NAMESPACE, f"deployment/{RELEASE}",
                                 f"--timeout={budget + 120}s", doing="waiting for the rollout", check=False,
                                 timeout=budget + 180)
        pods = json.loads(cluster.kubectl("get", "pods", "-n", NAMESPACE, "-l",
                                          f"app.kubernetes.io/instance={RELEASE}", "-o", "json").stdout)["items"]
        serving = [pod for pod in pods if pod["metadata"].get("labels", {}).get("app.kubernetes.io/component")
                   == "inference-server"]
        if rolled.returncode != 0 or not serving:
            logs = cluster.kubectl("logs", "-n", NAMESPACE, f"deployment/{RELEASE}", "-c", "vllm", "--tail=60",
                                   check=False).stdout
            raise AssertionError(f"environment {LIVE_ENV}, release {RELEASE}: not rolled out within {budget + 120} s: "
                                 f"{rolled.stderr.strip()}\npods: {json.dumps([p.get('status') for p in pods])[:3000]}"
                                 f"\nvllm log tail:\n{logs}")
        ready = Served(cluster, name, serving[0], round(time.monotonic() - installed, 1))
        FIGURES.setdefault("vLLM release installed to Ready (s)", []).append(ready.seconds_to_ready)
        FIGURES.setdefault("startup budget the chart gave it (s)", []).append(budget)
        yield ready
    finally:
        cluster.plane.stop()
        shutil.rmtree(MODELS.parent, ignore_errors=True)


def test_the_release_becomes_ready_through_the_charts_probes_within_its_startup_budget(served: Served):
    container = next(c for c in served.pod["spec"]["containers"] if c["name"] == "vllm")
    probe = container["startupProbe"]
    budget = probe["periodSeconds"] * probe["failureThreshold"]
    assert probe["httpGet"]["path"] == "/health", f"{served.where}: startup probe {probe}"
    assert served.pod["spec"]["nodeName"] == served.node, f"{served.where}: on {served.pod['spec']['nodeName']}"
    assert served.seconds_to_ready <= budget, (
        f"{served.where}: Ready after {served.seconds_to_ready} s, beyond the startup budget of {budget} s")
    print(f"{served.where}: Ready {served.seconds_to_ready} s after helm install; startup budget {budget} s")


def test_the_served_model_name_is_listed_and_answers_a_completion_and_a_chat_completion(served: Served):
    name = SPEC["deployment"]["servedModelName"]
    status, models = call(f"{served.base}/v1/models")
    assert status == 200 and [m["id"] for m in models["data"]] == [name], (
        f"{served.where}: GET /v1/models -> {status} {models}")
    status, completion = call(f"{served.base}/v1/completions", {"model": name, "prompt": "The model", "max_tokens": 8})
    assert status == 200 and completion["choices"][0]["text"], f"{served.where}: completion -> {status} {completion}"
    assert completion["usage"]["completion_tokens"] >= 1, f"{served.where}: completion usage {completion['usage']}"
    status, chat = call(f"{served.base}/v1/chat/completions",
                        {"model": name, "max_tokens": 8, "messages": [{"role": "user", "content": "hello"}]})
    assert status == 200 and chat["choices"][0]["message"]["role"] == "assistant", (
        f"{served.where}: chat completion -> {status} {chat}")


def test_the_container_runs_as_the_charts_user_on_a_read_only_root_with_shm_as_sized(served: Served):
    context = served.pod["spec"]["securityContext"]
    facts = dict(line.split("=", 1) for line in served.exec(
        "echo uid=$(id -u); echo gid=$(id -g); "
        "if touch /rootfs-write 2>/dev/null; then echo root=writable; else echo root=read-only; fi; "
        "for d in $HOME /tmp /dev/shm; do if touch $d/.w 2>/dev/null; then echo $d=writable; else echo $d=no; fi; done; "
        "echo shm-kib=$(df -k /dev/shm | tail -1 | awk '{print $2}')").split())
    assert facts["uid"] == str(context["runAsUser"]) and facts["gid"] == str(context["runAsGroup"]), (
        f"{served.where}: runs as {facts['uid']}:{facts['gid']}, the chart sets "
        f"{context['runAsUser']}:{context['runAsGroup']}")
    assert facts["root"] == "read-only", f"{served.where}: a write to / succeeded under readOnlyRootFilesystem"
    for directory in ("/home/vllm", "/tmp", "/dev/shm"):
        assert facts[directory] == "writable", f"{served.where}: {directory} is not writable by UID {facts['uid']}"
    shm = next(v for v in served.pod["spec"]["volumes"] if v["name"] == "dshm")["emptyDir"]["sizeLimit"]
    assert int(facts["shm-kib"]) * 1024 == parse_quantity(shm), (
        f"{served.where}: /dev/shm is {facts['shm-kib']} KiB, the chart sized it {shm}")


def test_the_metrics_the_chart_reads_are_in_the_live_scrape(served: Served):
    """Every vLLM metric name vllm-versions.yaml gives the image's version (what the PrometheusRule, the
    dashboard and the KEDA trigger are rendered from) is in the pod's own /metrics."""
    status, scrape = call(f"{served.base}/metrics")
    assert status == 200, f"{served.where}: GET /metrics -> {status}"
    present = {line.split("{")[0].split(" ")[0] for line in scrape.splitlines() if line and not line.startswith("#")}
    version = SPEC["image"]["tag"].lstrip("v")
    versions = yaml.safe_load((toolchain.ROOT / "charts/vllm-models/vllm-versions.yaml").read_text())["versions"]
    entry = next(v for v in versions if v["version"] == version)
    wanted = {key: name for key, name in entry["metrics"].items()}
    missing = {key: name for key, name in wanted.items()
               if not any(p == name or p.startswith(f"{name}_") for p in present)}
    assert not missing, (f"{served.where}: vllm-versions.yaml names metrics of vLLM {version} its live /metrics "
                         f"lacks: {missing}")


def parse_quantity(quantity: str) -> int:
    units = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}
    for suffix, factor in units.items():
        if quantity.endswith(suffix):
            return int(quantity[:-len(suffix)]) * factor
    return int(quantity)
