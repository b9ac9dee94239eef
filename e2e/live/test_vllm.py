"""The chart's own release of the tiny model runs on the live node: installed by helm from the chart, its
weights downloaded by the chart's init container from a real S3 API into the node's model directory, Ready
through the chart's probes, answering as vLLM under the chart's security context, draining a stream on
SIGTERM, and skipping the completed download when it restarts.

One release for the module (fixture `served`): a vLLM start is the expensive part, and the tests read the
same pod; the last two replace it, in file order. Its values are e2e/live/tiny-llama.yaml; the images
(e2e/live/build.py vllm-image, awscli-image), the tiny model (build.py model) and the S3 server's venv
(build.py s3-venv) are built once per machine and cached by content.
"""
from __future__ import annotations

import dataclasses
import json
import math
import re
import shutil
import subprocess
import threading
import time
import urllib.request
from pathlib import Path
from typing import Collection

import pytest
import yaml

import build
import livenode
import smoke
import cluster as clusters
import node as nodes
import plane as planes
from livenode import FIGURES, LIVE_ENV
from vllm_models import capacity, render, toolchain

HERE = Path(__file__).resolve().parent
VALUES = HERE / "tiny-llama.yaml"
NAMESPACE = "live"
SPEC = yaml.safe_load(VALUES.read_text())
RELEASE = SPEC["fullnameOverride"]
MODELS = Path(SPEC["hps"]["models"]["path"])  # the release's hostPath: the node's model directory
UID = render.chart_default("securityContext")["runAsUser"]  # the chart's user, whom the download writes as


@dataclasses.dataclass
class Served:
    cluster: clusters.Cluster
    node: str
    s3: dict  # the S3 server's endpoint and the key it issued (e2e/live/s3.py)
    pod: dict = dataclasses.field(default_factory=dict)
    seconds_to_ready: float = 0.0

    @property
    def where(self) -> str:
        return self.at(self.pod)

    def at(self, pod: dict) -> str:
        return (f"environment {LIVE_ENV} (live node {self.node}), release {RELEASE}, "
                f"pod {NAMESPACE}/{pod['metadata']['name']}, container vllm")

    def apply(self, *sets: str, doing: str) -> None:
        """helm upgrade --install of the release: its values file, the S3 endpoint, then `sets` (key=value)."""
        self.cluster.run([toolchain.tool("helm"), "upgrade", "--install", RELEASE,
                          str(toolchain.ROOT / "charts" / "vllm-models"), "--namespace", NAMESPACE, "-f", str(VALUES),
                          *[a for item in (f"storage.download.s3.endpoint={self.s3['endpoint']}", *sets)
                            for a in ("--set", item)]], doing=doing)

    @property
    def base(self) -> str:
        """The release's NodePort on the node's address: the way a client of the fleet reaches a model."""
        return f"http://{nodes.NODE_IP}:{SPEC['service']['nodePort']}"

    def exec(self, script: str, *, check: bool = True) -> str:
        result = self.cluster.kubectl("exec", "-n", NAMESPACE, self.pod["metadata"]["name"], "-c", "vllm", "--",
                                      "/bin/sh", "-c", script, doing=f"{self.where}: running `{script}`", check=check)
        return result.stdout


def call(url: str, body: dict | None = None, timeout: float = 120) -> tuple[int, dict | str]:
    """smoke.call's status and body, the body parsed when it is JSON."""
    status, text = smoke.call(url, body, timeout)
    try:
        return status, json.loads(text)
    except ValueError:
        return status, text


def model_directory() -> None:
    """The release's hostPath parent, made as the chart's storage.download documents for hostPath: writable by
    group 0 (the chart's runAsGroup), so the download's UID 2000 can create the model's directory in it."""
    shutil.rmtree(MODELS.parent, ignore_errors=True)
    subprocess.run(["install", "-d", "-m", "0775", "-g", "0", str(MODELS)], check=True)
    MODELS.parent.chmod(0o755)


def start_s3(cluster: clusters.Cluster, model: Path) -> dict:
    """The S3 API (moto, e2e/live/s3.py) on the node's address, holding the tiny model, with SigV4 keys; a
    process of the plane, so it stops with it (or its janitor)."""
    venv = build.build_venv("s3")
    port = planes.free_ports(1)[0]
    out = cluster.directory / "s3.json"
    process = cluster.plane.spawn("s3", [str(venv / "bin" / "python"), str(HERE / "s3.py"), "--host", nodes.NODE_IP,
                                         "--port", str(port), "--model", str(model), "--out", str(out)])
    planes.wait_for("the S3 server's key file", out.exists, {"s3": process}, 120)
    return json.loads(out.read_text())


def pod_names(cluster: clusters.Cluster) -> set[str]:
    return {pod["metadata"]["name"] for pod in pods_of(cluster)}


def pods_of(cluster: clusters.Cluster) -> list[dict]:
    items = json.loads(cluster.kubectl("get", "pods", "-n", NAMESPACE, "-l", f"app.kubernetes.io/instance={RELEASE}",
                                       "-o", "json").stdout)["items"]
    return [pod for pod in items
            if pod["metadata"].get("labels", {}).get("app.kubernetes.io/component") == "inference-server"]


def failed_containers(pod: dict) -> list[str]:
    """The containers of `pod` (init containers included) that exited non-zero, now or in their last run: a
    rollout waiting for them waits for nothing (CrashLoopBackOff), so the wait stops at once (and early: the
    kubelet removes a failed init container, and its log, when it starts the next attempt)."""
    statuses = pod.get("status", {}).get("initContainerStatuses", []) + pod.get("status", {}).get("containerStatuses", [])
    return [status["name"] for status in statuses
            if any((status.get(state, {}).get("terminated", {}).get("exitCode") or 0) != 0
                   for state in ("state", "lastState"))]


def wait_rolled_out(cluster: clusters.Cluster, doing: str, replaced: Collection[str] = ()) -> dict:
    """The release's one serving pod once the Deployment is rolled out and that pod is Ready; stops early, with
    the failing container's log, when a container of the new pod has failed and restarts. The pods named in
    `replaced` (those before an upgrade or a deletion) never count, however long the controller takes to act."""
    budget = int(SPEC["slowStart"]["maxStartupSeconds"]) + int(SPEC["storage"]["download"]["timeoutSeconds"])
    deadline = time.monotonic() + budget
    while True:
        pods = [pod for pod in pods_of(cluster)
                if not pod["metadata"].get("deletionTimestamp") and pod["metadata"]["name"] not in replaced]
        ready = [pod for pod in pods if any(c["type"] == "Ready" and c["status"] == "True"
                                            for c in pod.get("status", {}).get("conditions", []))]
        failed = [(pod["metadata"]["name"], name) for pod in pods for name in failed_containers(pod)]
        if len(ready) == 1 and len(pods) == 1 or failed or time.monotonic() > deadline:
            break
        time.sleep(2)
    if failed or not (len(ready) == 1 and len(pods) == 1):
        logs = "".join(container_log(cluster, pod, container) for pod, container in failed)
        raise AssertionError(f"environment {LIVE_ENV}, release {RELEASE}: {doing}: "
                             + (f"container(s) {failed} failed and restart; their log:\n{logs}" if failed else
                                f"{len(ready)} of {len(pods)} pod(s) Ready after {budget} s: "
                                f"{json.dumps([p.get('status') for p in pods])[:3000]}"))
    return ready[0]


def container_log(cluster: clusters.Cluster, pod: str, container: str) -> str:
    """The last lines a failed container wrote: its current (terminated) run's, else its previous run's."""
    for previous in ([], ["--previous"]):
        result = cluster.kubectl("logs", "-n", NAMESPACE, pod, "-c", container, *previous, "--tail=20", check=False)
        if result.returncode == 0 and result.stdout.strip() and "unable to retrieve container logs" not in result.stdout:
            return f"--- {pod}/{container}\n{result.stdout}"
    return f"--- {pod}/{container}: no log kept ({result.stderr.strip()})\n"


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Served:
    """A plane with the live node, the images imported, the S3 server up, and the release installed by helm, Ready."""
    started = time.monotonic()
    images = {build.IMAGES[kind]["name"]: build.build_image(kind) for kind in ("vllm", "awscli")}
    model = build.build_model()
    FIGURES.setdefault("images and tiny model built or cached (s)", []).append(round(time.monotonic() - started, 1))
    cluster = clusters.start(tmp_path_factory.mktemp("plane"))
    try:
        node = livenode.join(cluster, images).node
        cluster.plane.state["node"]["host_dirs"] = [str(MODELS.parent)]  # removed with the node, even by its janitor
        cluster.plane.save()
        model_directory()
        served = Served(cluster, node, start_s3(cluster, model))
        cluster.kubectl("create", "namespace", NAMESPACE, doing="creating the namespace")
        secret = SPEC["storage"]["download"]["s3"]["credentialsSecret"]["name"]
        cluster.kubectl("create", "secret", "generic", "-n", NAMESPACE, secret,
                        f"--from-literal=AWS_ACCESS_KEY_ID={served.s3['access_key_id']}",
                        f"--from-literal=AWS_SECRET_ACCESS_KEY={served.s3['secret_access_key']}",
                        doing=f"creating Secret {secret} from the S3 server's key")
        installed = time.monotonic()
        served.apply(doing=f"helm install {RELEASE} into environment {LIVE_ENV}'s live node")
        served.pod = wait_rolled_out(cluster, "installing")
        served.seconds_to_ready = round(time.monotonic() - installed, 1)
        FIGURES.setdefault("helm install to Ready, download included (s)", []).append(served.seconds_to_ready)
        FIGURES.setdefault("startup budget the chart gave it (s)", []).append(int(SPEC["slowStart"]["maxStartupSeconds"]))
        yield served
    finally:
        cluster.plane.stop()


def init_log(served: Served, pod: dict) -> str:
    return served.cluster.kubectl("logs", "-n", NAMESPACE, pod["metadata"]["name"], "-c", "model-download",
                                  doing=f"{served.where}: reading the download's log").stdout


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
    assert int(facts["shm-kib"]) * 1024 == capacity.quantity(shm), (
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


SAMPLE = re.compile(r"^(vllm:[a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)")


def scraped_series(scrape: str, extra: dict[str, str]) -> dict[str, float]:
    """Every finite vllm:* sample of a /metrics scrape as a PromQL series (with `extra` labels, as Prometheus's
    Kubernetes discovery adds namespace and pod) and its value."""
    series = {}
    for line in scrape.splitlines():
        match = SAMPLE.match(line)
        if not match or not math.isfinite(value := float(match.group(3))):
            continue
        labels = match.group(2)[1:-1].rstrip(",") if match.group(2) else ""
        added = ",".join(f"{key}={json.dumps(val)}" for key, val in extra.items())
        series[f"{match.group(1)}{{{labels + ',' if labels else ''}{added}}}"] = value
    return series


def test_no_alert_of_the_releases_rules_fires_on_the_idle_pods_live_scrape(served: Served, tmp_path):
    """promtool evaluates the release's PrometheusRule (rendered by the chart) over two real scrapes of the idle,
    healthy pod, a minute apart in promtool's time and held for 30 minutes: no alert fires."""
    rendered = served.cluster.run([toolchain.tool("helm"), "template", RELEASE, str(toolchain.ROOT / "charts" / "vllm-models"),
                                   "--namespace", NAMESPACE, "-f", str(VALUES), "--set", "prometheusRule.enabled=true",
                                   "--show-only", "templates/prometheusrule.yaml"], doing="rendering the release's rules").stdout
    groups = yaml.safe_load(rendered)["spec"]["groups"]
    alerts = [rule["alert"] for group in groups for rule in group["rules"] if "alert" in rule]
    assert alerts, f"{served.where}: the chart rendered no alert for the release"
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump({"groups": groups}))
    extra = {"namespace": NAMESPACE, "pod": served.pod["metadata"]["name"]}
    first = scraped_series(call(f"{served.base}/metrics")[1], extra)
    time.sleep(5)
    second = scraped_series(call(f"{served.base}/metrics")[1], extra)
    assert first and set(first) <= set(second) | set(first), f"{served.where}: no vllm:* sample in /metrics"
    series = [{"series": name, "values": f"{first[name]} {second.get(name, first[name])}+0x29"} for name in sorted(first)]
    tests = {"rule_files": ["rules.yaml"], "evaluation_interval": "1m",
             "tests": [{"interval": "1m", "input_series": series,
                        "alert_rule_test": [{"eval_time": "30m", "alertname": name, "exp_alerts": []} for name in alerts]}]}
    (tmp_path / "tests.yaml").write_text(yaml.safe_dump(tests, sort_keys=False))
    result = subprocess.run([toolchain.tool("promtool"), "test", "rules", "tests.yaml"], cwd=tmp_path,
                            capture_output=True, text=True, env=toolchain.tool_env())
    assert result.returncode == 0, (f"{served.where}: promtool test rules over {len(series)} scraped series, alerts "
                                    f"{alerts} expected silent:\n{result.stdout}{result.stderr}")


def test_the_weights_were_downloaded_by_the_charts_init_container_from_s3_into_the_nodes_directory(served: Served):
    directory = MODELS / Path(SPEC["deployment"]["model"]).name
    log = init_log(served, served.pod)
    uri = SPEC["storage"]["download"]["s3"]["uri"]
    assert f"now holds a complete copy of {uri}" in log, f"{served.where}: the download's log says:\n{log}"
    marker = directory / ".vllm-models-complete"
    assert marker.exists() and uri in marker.read_text(), f"{served.where}: no completion marker naming {uri} in {directory}"
    model = build.build_model()
    wanted = sorted(p.relative_to(model).as_posix() for p in model.rglob("*") if p.is_file())
    got = sorted(p.relative_to(directory).as_posix() for p in directory.rglob("*") if p.is_file() and p != marker)
    assert got == wanted, f"{served.where}: {directory} holds {got}, the model is {wanted}"
    owners = {p.stat().st_uid for p in directory.rglob("*")}
    assert owners == {UID}, f"{served.where}: files in {directory} owned by UIDs {owners}, not the chart's {UID}"


def stream(url: str, body: dict, chunks: list[tuple[float, str]], done: threading.Event) -> None:
    """POST a streaming request; every server-sent line with its arrival time goes to `chunks`."""
    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            for line in response:
                text = line.decode().strip()
                if text:
                    chunks.append((time.monotonic(), text))
    except OSError as error:
        chunks.append((time.monotonic(), f"connection error: {error}"))
    finally:
        done.set()


def test_sigterm_lets_a_stream_in_flight_finish_and_the_process_exits_within_the_grace_period(served: Served):
    """preStop, then SIGTERM with a stream in flight: vLLM finishes it within --shutdown-timeout ([DONE], no
    error chunk) and exits before terminationGracePeriodSeconds."""
    pod = served.pod
    grace = pod["spec"]["terminationGracePeriodSeconds"]
    container = next(c for c in pod["spec"]["containers"] if c["name"] == "vllm")
    args = container["args"]
    shutdown = int(args[args.index("--shutdown-timeout") + 1])
    pause = int(container["lifecycle"]["preStop"]["exec"]["command"][-1])
    chunks: list[tuple[float, str]] = []
    done = threading.Event()
    body = {"model": SPEC["deployment"]["servedModelName"], "prompt": "The model", "stream": True,
            "max_tokens": SPEC["deployment"]["maxModelLen"] - 16, "ignore_eos": True}
    threading.Thread(target=stream, args=(f"{served.base}/v1/completions", body, chunks, done), daemon=True).start()
    deadline = time.monotonic() + 60
    while not chunks and time.monotonic() < deadline:
        time.sleep(0.05)
    assert chunks, f"{served.where}: no streamed chunk within 60 s"
    deleted = time.monotonic()
    served.cluster.kubectl("delete", "pod", "-n", NAMESPACE, pod["metadata"]["name"], "--wait=false",
                           doing=f"{served.where}: deleting the pod")
    sigterm = deleted + pause  # the kubelet runs preStop first, then sends SIGTERM
    done.wait(grace + 30)
    gone = wait_gone(served, pod, grace + 30)
    last_at, last = chunks[-1]
    errors = [text for _, text in chunks if "error" in text.lower()]
    assert last == "data: [DONE]" and not errors, (
        f"{served.where}: the stream in flight at SIGTERM ended with {last!r} ({len(chunks)} chunks; errors {errors[:2]})")
    assert last_at > sigterm, (
        f"{served.where}: the stream finished {sigterm - last_at:.1f} s before SIGTERM, so it proves no drain: "
        f"lengthen it (max_tokens {body['max_tokens']})")
    assert last_at - sigterm <= shutdown + 1, (
        f"{served.where}: the stream finished {last_at - sigterm:.1f} s after SIGTERM, beyond --shutdown-timeout {shutdown}")
    assert gone - deleted < grace, (
        f"{served.where}: the pod was gone {gone - deleted:.1f} s after deletion, not before its grace period of {grace} s "
        "(the kubelet killed it)")
    FIGURES.setdefault("stream finished after SIGTERM (s)", []).append(round(last_at - sigterm, 1))
    FIGURES.setdefault("pod deleted to gone (s); grace", []).append((round(gone - deleted, 1), grace))


def wait_gone(served: Served, pod: dict, timeout: float) -> float:
    """When the pod object is gone (the kubelet saw its containers exit); asserts it goes within timeout."""
    name = pod["metadata"]["name"]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if name not in pod_names(served.cluster):
            return time.monotonic()
        time.sleep(0.25)
    raise AssertionError(f"{served.where}: pod {name} still exists {timeout} s after its deletion")


def test_a_replacement_pod_skips_the_completed_download_and_serves(served: Served):
    first = served.pod
    if first["metadata"]["name"] in pod_names(served.cluster):
        served.cluster.kubectl("delete", "pod", "-n", NAMESPACE, first["metadata"]["name"],
                               doing=f"{served.where}: deleting the pod")
    pod = wait_rolled_out(served.cluster, "replacing the deleted pod", {first["metadata"]["name"]})
    where = served.at(pod)
    log = init_log(served, pod)
    assert "holds a complete copy" in log and "nothing to download" in log, f"{where}: the download's log says:\n{log}"
    status, completion = call(f"{served.base}/v1/completions",
                              {"model": SPEC["deployment"]["servedModelName"], "prompt": "Again", "max_tokens": 4})
    assert status == 200, f"{where}: completion after the restart -> {status} {completion}"


def local_volume(served: Served, path: Path, claim: str) -> None:
    """A local PersistentVolume on the live node at `path` (root 0755, as a new disk would be) and its claim:
    the kubelet applies the pod's fsGroup to it, as to any claim, which is what lets UID 2000 write."""
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(mode=0o755, parents=True)
    volume = {"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": f"{NAMESPACE}-{claim}"},
              "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"],
                       "persistentVolumeReclaimPolicy": "Retain", "storageClassName": "live-local",
                       "local": {"path": str(path)},
                       "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [
                           {"key": "kubernetes.io/hostname", "operator": "In", "values": [served.node]}]}]}}}}
    request = {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": claim, "namespace": NAMESPACE},
               "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "live-local",
                        "volumeName": volume["metadata"]["name"], "resources": {"requests": {"storage": "1Gi"}}}}
    served.cluster.kubectl("apply", "-f", "-", stdin=yaml.safe_dump_all([volume, request]),
                           doing=f"{served.where}: creating the local PersistentVolume and claim {claim}")


def test_the_weights_download_into_a_claim_on_a_local_persistent_volume_and_serve(served: Served):
    """The release moved to storage.type existingClaim: the download writes into the claim (the chart mounts it
    writable for the init container, read-only for vLLM), and the new pod serves from it. Recreate: this node
    has room for one pod of the release at a time (see the README's live tier)."""
    claim, path = "tiny-llama-weights", MODELS.parent / "claim"
    local_volume(served, path, claim)
    before = pod_names(served.cluster)
    served.apply("storage.type=existingClaim", f"storage.existingClaim={claim}", "deployment.updateStrategy.type=Recreate",
                 doing=f"helm upgrade {RELEASE} onto claim {claim}")
    pod = wait_rolled_out(served.cluster, f"moving onto claim {claim}", before)
    where = served.at(pod)
    uri = SPEC["storage"]["download"]["s3"]["uri"]
    log = init_log(served, pod)
    assert f"now holds a complete copy of {uri}" in log, f"{where}: the download's log says:\n{log}"
    directory = path / Path(SPEC["deployment"]["model"]).name
    owners = {p.stat().st_uid for p in directory.rglob("*")}
    assert owners == {UID}, f"{where}: files in the claim's {directory} owned by UIDs {owners}, not the chart's {UID}"
    status, completion = call(f"{served.base}/v1/completions",
                              {"model": SPEC["deployment"]["servedModelName"], "prompt": "Claim", "max_tokens": 4})
    assert status == 200, f"{where}: completion from the claim's weights -> {status} {completion}"


def test_a_download_with_a_wrong_secret_key_fails_naming_the_s3_error_and_marks_nothing_complete(served: Served):
    """The release pointed at a Secret whose key S3 does not know, for a model directory not yet downloaded:
    the init container fails with S3's own error (SignatureDoesNotMatch, as on AWS), vLLM never starts and no
    completion marker is written."""
    secret, model = "tiny-llama-s3-wrong", "/models/tiny-llama-wrong-key"
    served.cluster.kubectl("create", "secret", "generic", "-n", NAMESPACE, secret,
                           f"--from-literal=AWS_ACCESS_KEY_ID={served.s3['access_key_id']}",
                           "--from-literal=AWS_SECRET_ACCESS_KEY=not-the-key-s3-issued",
                           doing=f"creating Secret {secret} with a wrong secret key")
    before = pod_names(served.cluster)
    served.apply(f"storage.download.s3.credentialsSecret.name={secret}", f"deployment.model={model}",
                 "deployment.updateStrategy.type=Recreate", doing=f"helm upgrade {RELEASE} with Secret {secret}")
    with pytest.raises(AssertionError) as failed:
        wait_rolled_out(served.cluster, f"downloading with Secret {secret}", before)
    message = str(failed.value)
    assert "model-download" in message and "SignatureDoesNotMatch" in message, (
        f"environment {LIVE_ENV}, release {RELEASE}, container model-download: a wrong secret key should fail the "
        f"download naming S3's error; the wait said:\n{message}")
    directory = MODELS / Path(model).name
    assert not (directory / ".vllm-models-complete").exists(), f"{served.where}: {directory} was marked complete"
