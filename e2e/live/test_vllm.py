"""The chart's own release of the tiny model runs on the live node: applied by helmfile from the chart, its
weights and LoRA adapter downloaded by the chart's init containers from a real S3 API into the node's model
directory, Ready through the chart's probes, answering as vLLM under the chart's security context, firing
its alert under a full batch, draining a stream on SIGTERM, skipping the completed download when it restarts,
resuming a killed one, and rolling without a failed request.

One release for the module (fixture `served`): a vLLM start is the expensive part, and the tests read the
same pod; from the SIGTERM test on, each replaces it, in file order (the killed download's starts while the pod
the SIGTERM test deleted is being replaced). It is the `live` environment's release,
applied with the same helmfile as every environment (`helmfile -e live apply`; e2e/live/environment/); the images
(e2e/live/build.py vllm-image, awscli-image), the tiny model (build.py model) and the S3 server's venv
(build.py s3-venv) and the adapter (build.py adapter) are built once per machine and cached by content.
"""
from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import re
import shutil
import signal
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
VALUES = livenode.ENVIRONMENT / "language" / "tiny-llama.yaml"
SPEC = yaml.safe_load(VALUES.read_text())
RELEASE = f"{render.RELEASE_PREFIX}{VALUES.stem}"
NAMESPACE = "llms"  # helmfile.yaml.gotmpl's, for every environment
MODELS = Path(yaml.safe_load((livenode.ENVIRONMENT / "values.yaml").read_text())["global"]["hps"]["models"]["path"])
UID = render.chart_default("securityContext")["runAsUser"]  # the chart's user, whom the download writes as
ADAPTERS = SPEC["lora"]["adapters"] if SPEC.get("lora", {}).get("enabled") else []


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
        """`helmfile -e live apply` of the release alone: its files, the S3 endpoint, then `sets` (key=value)."""
        apply(self.cluster, f"model={VALUES.stem}", f"storage.download.s3.endpoint={self.s3['endpoint']}", *sets,
              doing=doing)

    @property
    def base(self) -> str:
        """The release's NodePort on the node's address: the way a client of the fleet reaches a model."""
        return f"http://{nodes.NODE_IP}:{SPEC['service']['nodePort']}"

    def exec(self, script: str, *, check: bool = True) -> str:
        result = self.cluster.kubectl("exec", "-n", NAMESPACE, self.pod["metadata"]["name"], "-c", "vllm", "--",
                                      "/bin/sh", "-c", script, doing=f"{self.where}: running `{script}`", check=check)
        return result.stdout


def apply(cluster: clusters.Cluster, selector: str, *sets: str, doing: str) -> None:
    """`helmfile -e live apply` of the releases `selector` picks (a label of helmfile.yaml.gotmpl's), with `sets`
    given to helm (--set key=value) as an operator would override a value for one apply."""
    cluster.helmfile(LIVE_ENV, "apply", extra=["--selector", selector, "--suppress-diff",
                                               *[a for item in sets for a in ("--set", item)]], doing=doing)


def call(url: str, body: dict | None = None, timeout: float = 120) -> tuple[int, dict | str]:
    """smoke.call's status and body, the body parsed when it is JSON."""
    status, text = smoke.call(url, body, timeout)
    try:
        return status, json.loads(text)
    except ValueError:
        return status, text


# A copy of the tiny model with a 64 MiB file beside it (original/, where checkpoints keep the files vLLM does not
# load): moto serves ~10 MB/s here, so its download lasts long enough to be killed half way.
BIG = {"uri": "s3://models/tiny-llama-big", "model": "/models/tiny-llama-big",
       "padding": "original/consolidated.00.pth", "bytes": 64 * 2**20}


def big_model(model: Path, directory: Path) -> Path:
    """The tiny model and BIG's padding (sparse: it costs no disk until downloaded) in `directory`."""
    shutil.copytree(model, directory)
    padding = directory / BIG["padding"]
    padding.parent.mkdir()
    with padding.open("wb") as out:
        out.truncate(BIG["bytes"])
    return directory


def model_directory() -> None:
    """The release's hostPath parent, made as the chart's storage.download documents for hostPath: writable by
    group 0 (the chart's runAsGroup), so the download's UID 2000 can create the model's directory in it."""
    shutil.rmtree(MODELS.parent, ignore_errors=True)
    subprocess.run(["install", "-d", "-m", "0775", "-g", "0", str(MODELS)], check=True)
    MODELS.parent.chmod(0o755)


def start_s3(cluster: clusters.Cluster, objects: dict[str, Path]) -> dict:
    """The S3 API (moto, e2e/live/s3.py) on the node's address, holding `objects` (s3://bucket/prefix: the
    directory whose files it holds), with SigV4 keys; a process of the plane, so it stops with it (or its janitor)."""
    venv = build.build_venv("s3")
    port = planes.free_ports(1)[0]
    out = cluster.directory / "s3.json"
    process = cluster.plane.spawn("s3", [str(venv / "bin" / "python"), str(HERE / "s3.py"), "--host", nodes.NODE_IP,
                                         "--port", str(port), "--out", str(out),
                                         *[a for uri, path in objects.items() for a in ("--object", f"{uri}={path}")]])
    planes.wait_for("the S3 server's key file", out.exists, {"s3": process}, 120)
    return json.loads(out.read_text())


def pod_names(cluster: clusters.Cluster) -> set[str]:
    return {pod["metadata"]["name"] for pod in pods_of(cluster)}


def pods_of(cluster: clusters.Cluster) -> list[dict]:
    items = json.loads(cluster.kubectl("get", "pods", "-n", NAMESPACE, "-l", f"app.kubernetes.io/instance={RELEASE}",
                                       "-o", "json").stdout)["items"]
    return [pod for pod in items
            if pod["metadata"].get("labels", {}).get("app.kubernetes.io/component") == "inference-server"]


def container_statuses(pod: dict) -> list[dict]:
    """The statuses of every container of `pod`, init containers first."""
    return pod.get("status", {}).get("initContainerStatuses", []) + pod.get("status", {}).get("containerStatuses", [])


def is_ready(pod: dict) -> bool:
    return any(c["type"] == "Ready" and c["status"] == "True" for c in pod.get("status", {}).get("conditions", []))


def failed_containers(pod: dict) -> list[str]:
    """The containers of `pod` (init containers included) that exited non-zero, now or in their last run: a
    rollout waiting for them waits for nothing (CrashLoopBackOff), so the wait stops at once (and early: the
    kubelet removes a failed init container, and its log, when it starts the next attempt)."""
    return [status["name"] for status in container_statuses(pod)
            if any((status.get(state, {}).get("terminated", {}).get("exitCode") or 0) != 0
                   for state in ("state", "lastState"))]


def wait_rolled_out(cluster: clusters.Cluster, doing: str, replaced: Collection[str] = (),
                    killed: Collection[str] = ()) -> dict:
    """The release's one serving pod once the Deployment is rolled out and that pod is Ready; stops early, with
    the failing container's log, when a container of the new pod has failed and restarts (a container named in
    `killed`, which the test killed itself, only when it fails again). The pods named in `replaced` (those
    before an upgrade or a deletion) never count, however long the controller takes to act."""
    budget = int(SPEC["slowStart"]["maxStartupSeconds"]) + int(SPEC["storage"]["download"]["timeoutSeconds"])
    deadline = time.monotonic() + budget
    while True:
        pods = [pod for pod in pods_of(cluster)
                if not pod["metadata"].get("deletionTimestamp") and pod["metadata"]["name"] not in replaced]
        ready = [pod for pod in pods if is_ready(pod)]
        failed = [(pod["metadata"]["name"], name) for pod in pods for name in failed_containers(pod)
                  if name not in killed or restarts(pod, name) > 1]
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


def restarts(pod: dict, container: str) -> int:
    return next((status.get("restartCount", 0) for status in container_statuses(pod) if status["name"] == container), 0)


def container_log(cluster: clusters.Cluster, pod: str, container: str) -> str:
    """The last lines a failed container wrote: its current run's, then its previous run's. In that order, a
    restart by the kubelet between the two reads (the first one of a failed init container is immediate) cannot
    hide the failed run: read before the restart, the current log is the failed run's; read after, the previous
    one is. (Previous first, a fresh-clone run read "no previous run" before the restart and the next attempt's
    first line after it, and missed S3's SignatureDoesNotMatch.)"""
    kept: list[str] = []
    for previous in ([], ["--previous"]):
        result = cluster.kubectl("logs", "-n", NAMESPACE, pod, "-c", container, *previous, "--tail=20", check=False)
        if result.returncode == 0 and result.stdout.strip() and "unable to retrieve container logs" not in result.stdout \
                and result.stdout not in kept:
            kept.append(result.stdout)
    return f"--- {pod}/{container}\n{''.join(kept)}" if kept else f"--- {pod}/{container}: no log kept ({result.stderr.strip()})\n"


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
        objects = {SPEC["storage"]["download"]["s3"]["uri"]: model, BIG["uri"]: big_model(model, cluster.directory / "big")}
        objects |= {adapter["s3"]["uri"]: build.build_model(adapter=True) for adapter in ADAPTERS}
        served = Served(cluster, node, start_s3(cluster, objects))
        apply(cluster, "component=namespace", doing=f"helmfile -e {LIVE_ENV} apply of the namespace release")
        secret = SPEC["storage"]["download"]["s3"]["credentialsSecret"]["name"]
        cluster.kubectl("create", "secret", "generic", "-n", NAMESPACE, secret,
                        f"--from-literal=AWS_ACCESS_KEY_ID={served.s3['access_key_id']}",
                        f"--from-literal=AWS_SECRET_ACCESS_KEY={served.s3['secret_access_key']}",
                        doing=f"creating Secret {secret} from the S3 server's key")
        installed = time.monotonic()
        served.apply(doing=f"helmfile -e {LIVE_ENV} apply of {RELEASE}")
        served.pod = wait_rolled_out(cluster, "installing")
        served.seconds_to_ready = round(time.monotonic() - installed, 1)
        FIGURES.setdefault("helmfile apply to Ready, download included (s)", []).append(served.seconds_to_ready)
        FIGURES.setdefault("startup budget the chart gave it (s)", []).append(int(SPEC["slowStart"]["maxStartupSeconds"]))
        yield served
    finally:
        cluster.plane.stop()


def init_log(served: Served, pod: dict, container: str = "model-download") -> str:
    return served.cluster.kubectl("logs", "-n", NAMESPACE, pod["metadata"]["name"], "-c", container,
                                  doing=f"{served.at(pod)}: reading the log of init container {container}").stdout


def files_of(directory: Path) -> dict[str, int]:
    """Every file below `directory` but the download's marker, with its size."""
    return {p.relative_to(directory).as_posix(): p.stat().st_size for p in sorted(directory.rglob("*"))
            if p.is_file() and p.name != ".vllm-models-complete"}


def test_the_release_becomes_ready_through_the_charts_probes_within_its_startup_budget(served: Served):
    container = next(c for c in served.pod["spec"]["containers"] if c["name"] == "vllm")
    probe = container["startupProbe"]
    budget = probe["periodSeconds"] * probe["failureThreshold"]
    assert probe["httpGet"]["path"] == "/health", f"{served.where}: startup probe {probe}"
    assert served.pod["spec"]["nodeName"] == served.node, f"{served.where}: on {served.pod['spec']['nodeName']}"
    assert served.seconds_to_ready <= budget, (
        f"{served.where}: Ready after {served.seconds_to_ready} s, beyond the startup budget of {budget} s")
    print(f"{served.where}: Ready {served.seconds_to_ready} s after helmfile apply; startup budget {budget} s")


def test_the_served_model_name_is_listed_and_answers_a_completion_and_a_chat_completion(served: Served):
    name = SPEC["deployment"]["servedModelName"]
    status, models = call(f"{served.base}/v1/models")
    assert status == 200 and sorted(m["id"] for m in models["data"]) == sorted([name] + [a["name"] for a in ADAPTERS]), (
        f"{served.where}: GET /v1/models -> {status} {models}")
    parents = {m["id"]: m.get("parent") for m in models["data"] if m["id"] != name}
    assert parents == {a["name"]: name for a in ADAPTERS}, f"{served.where}: adapters' parent models {parents}"
    status, completion = call(f"{served.base}/v1/completions", {"model": name, "prompt": "The model", "max_tokens": 8})
    assert status == 200 and completion["choices"][0]["text"], f"{served.where}: completion -> {status} {completion}"
    assert completion["usage"]["completion_tokens"] >= 1, f"{served.where}: completion usage {completion['usage']}"
    status, chat = call(f"{served.base}/v1/chat/completions",
                        {"model": name, "max_tokens": 8, "messages": [{"role": "user", "content": "hello"}]})
    assert status == 200 and chat["choices"][0]["message"]["role"] == "assistant", (
        f"{served.where}: chat completion -> {status} {chat}")


# What each tool call parser reads in a reply (vLLM's vllm/tool_parsers): a call written in it comes back as
# `tool_calls`. A parser the live release sets must be here.
TOOL_CALL_FORMATS = {"hermes": "<tool_call>\n{call}\n</tool_call>"}
WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "The weather of a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}


def vllm_args(pod: dict) -> list[str]:
    """The vLLM container's command line as the chart rendered it."""
    container = next(c for c in pod["spec"]["containers"] if c["name"] == "vllm")
    return [*container.get("command", []), *container.get("args", [])]


def literal_regex(text: str) -> str:
    """A regular expression that matches exactly `text` (for structured outputs' regex)."""
    return "".join("\\n" if c == "\n" else "\\" + c if c in "\\{}[]().*+?|^$" else c for c in text)


def test_tool_calls_in_the_release_parsers_format_come_back_as_tool_calls(served: Served):
    """Tools offered with tool_choice auto, the reply constrained (structured outputs' regex: the tiny model's
    weights are random) to a call in the format of the parser the chart passed: the parser must turn it into
    `tool_calls`. Without tool calling, vLLM must refuse tool_choice auto."""
    args = vllm_args(served.pod)
    body = {"model": SPEC["deployment"]["servedModelName"], "max_tokens": 256, "tools": [WEATHER],
            "tool_choice": "auto", "messages": [{"role": "user", "content": "the weather in Hanoi"}]}
    if "--enable-auto-tool-choice" not in args:
        status, refused = call(f"{served.base}/v1/chat/completions", body)
        assert status == 400 and "--enable-auto-tool-choice" in str(refused), (
            f"{served.where}: no tool calling in {args}, yet tool_choice auto -> {status} {refused}")
        return
    parser = args[args.index("--tool-call-parser") + 1]
    assert parser in TOOL_CALL_FORMATS, (
        f"{served.where}: --tool-call-parser {parser}: add its reply format to TOOL_CALL_FORMATS to test it")
    arguments = {"city": "Hanoi"}
    reply = TOOL_CALL_FORMATS[parser].format(call=json.dumps({"name": "get_weather", "arguments": arguments}))
    status, chat = call(f"{served.base}/v1/chat/completions",
                        {**body, "structured_outputs": {"regex": literal_regex(reply)}})
    assert status == 200, f"{served.where}: chat completion with tools -> {status} {chat}"
    choice = chat["choices"][0]
    calls = [(c["function"]["name"], json.loads(c["function"]["arguments"])) for c in choice["message"].get("tool_calls") or []]
    assert calls == [("get_weather", arguments)] and choice["finish_reason"] == "tool_calls", (
        f"{served.where}: parser {parser} given {reply!r} returned tool_calls {calls}, finish_reason "
        f"{choice['finish_reason']}, content {choice['message']['content']!r}")


def test_each_lora_adapter_answers_under_its_own_name_and_changes_what_the_model_says(served: Served):
    """The same greedy request to the base model and to each adapter: the adapter's answer names it and differs
    (the adapter's weights took part, not just its name)."""
    assert ADAPTERS, f"{served.where}: {VALUES.name} serves no LoRA adapter, so nothing here is proved"
    body = {"prompt": "The model serves", "max_tokens": 16, "temperature": 0, "ignore_eos": True}
    status, base = call(f"{served.base}/v1/completions", {"model": SPEC["deployment"]["servedModelName"], **body})
    assert status == 200, f"{served.where}: base model completion -> {status} {base}"
    for adapter in ADAPTERS:
        status, tuned = call(f"{served.base}/v1/completions", {"model": adapter["name"], **body})
        assert status == 200 and tuned["model"] == adapter["name"], (
            f"{served.where}: completion with adapter {adapter['name']} -> {status} {tuned}")
        assert tuned["choices"][0]["text"] != base["choices"][0]["text"], (
            f"{served.where}: adapter {adapter['name']} answered exactly as the base model "
            f"({base['choices'][0]['text']!r}): its weights were not applied")


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


@pytest.fixture(scope="module")
def rule_groups(served: Served) -> list[dict]:
    """The release's PrometheusRule groups as `helmfile -e live template` renders them, rules on (one render
    for the tests that read them: their inputs are the same)."""
    rendered = served.cluster.helmfile(LIVE_ENV, "template", extra=[
        "--selector", f"model={VALUES.stem}", "--set", "prometheusRule.enabled=true"]).stdout
    rule = next((doc for doc in yaml.safe_load_all(rendered) if doc and doc.get("kind") == "PrometheusRule"), None)
    assert rule, f"{served.where}: helmfile -e {LIVE_ENV} template rendered no PrometheusRule"
    return rule["spec"]["groups"]


def test_no_alert_of_the_releases_rules_fires_on_the_idle_pods_live_scrape(served: Served, rule_groups, tmp_path):
    """promtool evaluates the release's PrometheusRule (rendered by the chart) over two real scrapes of the idle,
    healthy pod, a minute apart in promtool's time and held for 30 minutes: no alert fires."""
    alerts = [rule["alert"] for group in rule_groups for rule in group["rules"] if "alert" in rule]
    assert alerts, f"{served.where}: the chart rendered no alert for the release"
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump({"groups": rule_groups}))
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


def test_the_running_requests_alert_fires_on_a_scrape_of_the_pod_serving_a_full_batch(served: Served, rule_groups,
                                                                                       tmp_path):
    """maxNumSeqs streams at once fill the batch; promtool evaluates the release's rules over the scrape taken then,
    held: the alert on running requests (80% of the batch) fires after its `for`, on this pod's series."""
    name, alert = SPEC["deployment"]["servedModelName"], "VllmRequestsRunningHigh"
    rule = next((r for g in rule_groups for r in g["rules"] if r.get("alert") == alert), None)
    assert rule, f"{served.where}: the release's PrometheusRule has no alert {alert}"
    seqs = int(SPEC["deployment"]["maxNumSeqs"])
    finished: list[threading.Event] = []
    chunks: list[list[tuple[float, str]]] = []
    tokens = max(64, int(tokens_per_second(served) * 5))
    for _ in range(seqs):
        chunks.append([])
        finished.append(threading.Event())
        body = {"model": name, "prompt": "The model", "stream": True, "max_tokens": tokens, "ignore_eos": True}
        threading.Thread(target=stream, args=(f"{served.base}/v1/completions", body, chunks[-1], finished[-1]),
                         daemon=True).start()
    deadline = time.monotonic() + 60
    while not all(chunks) and time.monotonic() < deadline:
        time.sleep(0.05)
    scrape = call(f"{served.base}/metrics")[1]
    for done in finished:
        done.wait(300)
    assert all(chunks), f"{served.where}: {sum(map(bool, chunks))} of {seqs} streams started within 60 s"
    pod = served.pod["metadata"]["name"]
    series = scraped_series(scrape, {"namespace": NAMESPACE, "pod": pod})
    running = [value for key, value in series.items() if key.startswith("vllm:num_requests_running{")]
    assert running == [seqs], f"{served.where}: vllm:num_requests_running {running} with {seqs} streams in flight"
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump({"groups": rule_groups}))
    hold = f"{rule.get('for', '0m')}"
    tests = {"rule_files": ["rules.yaml"], "evaluation_interval": "1m",
             "tests": [{"interval": "1m",
                        "input_series": [{"series": key, "values": f"{value}+0x30"} for key, value in sorted(series.items())],
                        "promql_expr_test": [{"expr": f'count(ALERTS{{alertname="{alert}",alertstate="firing",pod="{pod}"}})',
                                              "eval_time": "20m", "exp_samples": [{"labels": "{}", "value": 1}]}]}]}
    (tmp_path / "tests.yaml").write_text(yaml.safe_dump(tests, sort_keys=False))
    result = subprocess.run([toolchain.tool("promtool"), "test", "rules", "tests.yaml"], cwd=tmp_path,
                            capture_output=True, text=True, env=toolchain.tool_env())
    assert result.returncode == 0, (f"{served.where}: {alert} ({rule['expr']} for {hold}) did not fire over the scrape "
                                    f"of a full batch ({seqs} running), held 20 minutes:\n{result.stdout}{result.stderr}")


def test_the_weights_were_downloaded_by_the_charts_init_container_from_s3_into_the_nodes_directory(served: Served):
    directory = MODELS / Path(SPEC["deployment"]["model"]).name
    log = init_log(served, served.pod)
    uri = SPEC["storage"]["download"]["s3"]["uri"]
    assert f"now holds a complete copy of {uri}" in log, f"{served.where}: the download's log says:\n{log}"
    marker = directory / ".vllm-models-complete"
    assert marker.exists() and uri in marker.read_text(), f"{served.where}: no completion marker naming {uri} in {directory}"
    got, wanted = files_of(directory), files_of(build.build_model())
    assert got == wanted, f"{served.where}: {directory} holds {got}, the model is {wanted}"
    owners = {p.stat().st_uid for p in directory.rglob("*")}
    assert owners == {UID}, f"{served.where}: files in {directory} owned by UIDs {owners}, not the chart's {UID}"
    for index, adapter in enumerate(ADAPTERS):
        container = f"lora-download-{index}"
        log = init_log(served, served.pod, container)
        assert f"now holds a complete copy of {adapter['s3']['uri']}" in log, (
            f"{served.where}, init container {container}: its log says:\n{log}")
        target = MODELS / Path(adapter["path"]).name
        got, wanted = files_of(target), files_of(build.build_model(adapter=True))
        assert got == wanted, f"{served.where}, init container {container}: {target} holds {got}, the adapter is {wanted}"


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


def tokens_per_second(served: Served, tokens: int = 128) -> float:
    """The pod's decode rate: a completion of `tokens` tokens (EOS ignored), timed."""
    started = time.monotonic()
    status, body = call(f"{served.base}/v1/completions", {"model": SPEC["deployment"]["servedModelName"],
                                                          "prompt": "The model", "max_tokens": tokens, "ignore_eos": True})
    assert status == 200, f"{served.where}: completion of {tokens} tokens -> {status} {body}"
    rate = body["usage"]["completion_tokens"] / (time.monotonic() - started)
    FIGURES.setdefault("decode rate (tokens/s)", []).append(round(rate))
    return rate


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
    # A stream that outlives the pause and ends half way through the drain, from the pod's own decode rate.
    rate = tokens_per_second(served)
    tokens = min(SPEC["deployment"]["maxModelLen"] - 16, max(16, int(rate * (pause + shutdown / 2))))
    body = {"model": SPEC["deployment"]["servedModelName"], "prompt": "The model", "stream": True,
            "max_tokens": tokens, "ignore_eos": True}
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


def size_of(path: Path) -> int:
    """The size of a file another process may rename or remove meanwhile (0 once it is gone)."""
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def download_processes(uri: str) -> list[int]:
    """The host PIDs of the download container syncing `uri`: `aws s3 sync`, then its ancestors up to the
    container's first process (the chart's `timeout`), from the node's /proc."""
    def parent(pid: int) -> int:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])

    for entry in Path("/proc").iterdir():
        try:
            args = (entry / "cmdline").read_bytes().decode(errors="replace").split("\0")
        except (OSError, ValueError):
            continue
        if "sync" in args and uri in args and any(arg.endswith("/aws") or arg == "aws" for arg in args[:2]):
            chain = [int(entry.name)]
            with contextlib.suppress(OSError):
                while Path(f"/proc/{chain[-1]}/comm").read_text().strip() != "timeout" and len(chain) < 5:
                    chain.append(parent(chain[-1]))
            return chain
    return []


def test_a_download_killed_half_way_is_resumed_by_the_pods_next_attempt_and_leaves_no_partial_file(served: Served):
    """The release moved to a model whose download takes seconds (BIG); half way through, every process of the
    download container is killed at once (as an OOM kill of its cgroup would: no trap runs). The kubelet starts
    the init container again in the same pod, which takes over the lock its killed attempt left, resumes into the
    partial directory, and leaves exactly the source's files: no half-written temporary file, no lock."""
    partial = MODELS / f"{Path(BIG['model']).name}.partial"
    before = pod_names(served.cluster)
    served.apply(f"deployment.model={BIG['model']}", f"storage.download.s3.uri={BIG['uri']}",
                 doing=f"helmfile -e {LIVE_ENV} apply of {RELEASE} onto {BIG['uri']}")
    deadline, half = time.monotonic() + 300, 0
    while half < 2**20 and time.monotonic() < deadline:  # s3transfer writes NAME.XXXXXXXX, renamed when complete
        half = max((size_of(p) for p in (partial / Path(BIG["padding"]).parent).glob(f"{Path(BIG['padding']).name}.*")),
                   default=0)
        time.sleep(0.05)
    assert half >= 2**20, (f"environment {LIVE_ENV}, release {RELEASE}: no partial download of {BIG['padding']} in "
                           f"{partial} within 300 s")
    processes = download_processes(BIG["uri"])
    assert processes, f"environment {LIVE_ENV}, release {RELEASE}: no `aws s3 sync {BIG['uri']}` process on the node"
    # The container's first process first: its death makes the kernel kill the rest of its PID namespace at once.
    for pid in reversed(processes):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    FIGURES.setdefault("download killed at (MiB of the padding's 64)", []).append(round(half / 2**20, 1))
    pod = wait_rolled_out(served.cluster, f"downloading {BIG['uri']} again after the kill", before, killed={"model-download"})
    where = served.at(pod)
    assert restarts(pod, "model-download") == 1, f"{where}: init container model-download restarted {restarts(pod, 'model-download')} times"
    log = init_log(served, pod)
    assert "left by an earlier attempt of this pod" in log and f"now holds a complete copy of {BIG['uri']}" in log, (
        f"{where}, init container model-download: its second attempt's log says:\n{log}")
    directory = MODELS / Path(BIG["model"]).name
    source = build.build_model()
    got, wanted = files_of(directory), files_of(source) | {BIG["padding"]: BIG["bytes"]}
    assert got == wanted, f"{where}: {directory} holds {got}, the source {wanted}"
    assert not partial.exists() and not Path(f"{directory}.lock").exists(), f"{where}: {partial} or the lock is left"
    status, completion = call(f"{served.base}/v1/completions",
                              {"model": SPEC["deployment"]["servedModelName"], "prompt": "Resumed", "max_tokens": 4})
    assert status == 200, f"{where}: completion from the resumed copy -> {status} {completion}"
    served.pod = pod


def test_a_rolling_update_answers_every_request_and_keeps_the_old_pod_until_the_new_one_is_ready(served: Served):
    """helmfile apply changes vLLM's arguments; with the release's strategy the controller starts the new pod beside
    the old one (maxSurge), takes the old one away only once the new one is Ready (maxUnavailable 0; the old one
    drains through preStop and --shutdown-timeout), and the NodePort answers every request in between. The new
    pod's downloads find the completed copies (of the model and the adapter) and fetch nothing."""
    strategy = json.loads(served.cluster.kubectl("get", "deployment", "-n", NAMESPACE, RELEASE, "-o", "json").stdout)["spec"]["strategy"]
    assert strategy["type"] == "RollingUpdate" and str(strategy["rollingUpdate"]["maxUnavailable"]) == "0", (
        f"environment {LIVE_ENV}, release {RELEASE}: strategy {strategy} is not a rolling update that keeps the "
        "serving pod, so no request-free rollout is promised")
    old = served.pod["metadata"]["name"]
    before = pod_names(served.cluster)  # the serving pod, and any an earlier test left terminating
    results: list[tuple[float, int | str]] = []
    stop = threading.Event()

    def client() -> None:
        while not stop.is_set():
            at = time.monotonic()
            try:
                status, _ = smoke.call(f"{served.base}/v1/completions", {
                    "model": SPEC["deployment"]["servedModelName"], "prompt": "Rolling", "max_tokens": 4}, timeout=30)
                results.append((at, status))
            except OSError as error:
                results.append((at, f"{type(error).__name__}: {error}"))
            time.sleep(0.2)

    thread = threading.Thread(target=client, daemon=True)
    thread.start()
    upgraded = time.monotonic()
    served.apply(f"deployment.maxNumSeqs={int(SPEC['deployment']['maxNumSeqs']) - 1}",
                 doing=f"helmfile -e {LIVE_ENV} apply of {RELEASE} with one argument changed")
    new_ready = old_leaving = None
    pod: dict = {}
    deadline = upgraded + int(SPEC["slowStart"]["maxStartupSeconds"])
    while time.monotonic() < deadline:
        pods = {p["metadata"]["name"]: p for p in pods_of(served.cluster)}
        now = time.monotonic()
        if old_leaving is None and (old not in pods or pods[old]["metadata"].get("deletionTimestamp")):
            old_leaving = now
        for name, candidate in pods.items():
            if name not in before and new_ready is None and not candidate["metadata"].get("deletionTimestamp") \
                    and is_ready(candidate):
                new_ready, pod = now, candidate
        if new_ready is not None and old not in pods:
            break
        time.sleep(0.5)
    time.sleep(2)  # requests sent as the old pod left still answer
    stop.set()
    thread.join(60)
    assert new_ready is not None and old_leaving is not None, (
        f"environment {LIVE_ENV}, release {RELEASE}: the rollout did not finish within "
        f"{SPEC['slowStart']['maxStartupSeconds']} s (new pod Ready: {new_ready is not None}, old pod {old} leaving: "
        f"{old_leaving is not None})")
    where = served.at(pod)
    assert old_leaving >= new_ready, (
        f"{where}: the old pod {old} began terminating {new_ready - old_leaving:.1f} s before the new pod was Ready")
    failed = [(round(at - upgraded, 1), outcome) for at, outcome in results if outcome != 200]
    assert not failed, (f"{where}: {len(failed)} of {len(results)} requests failed during the rolling update "
                        f"(seconds after helmfile apply, outcome): {failed[:5]}")
    during = [at for at, outcome in results if upgraded < at < new_ready]
    assert during, f"{where}: no request was answered while the new pod started, so the old pod's serving is unproved"
    for container in ["model-download"] + [f"lora-download-{index}" for index in range(len(ADAPTERS))]:
        log = init_log(served, pod, container)
        assert "holds a complete copy" in log and "nothing to download" in log, (
            f"{where}, init container {container}: a restart should find the completed copy; its log says:\n{log}")
    served.pod = pod
    FIGURES.setdefault("rolling update: helmfile apply to new pod Ready, to old pod leaving (s); requests, all answered",
                       []).append((round(new_ready - upgraded, 1), round(old_leaving - upgraded, 1), len(results)))


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
    writable for the init container, read-only for vLLM), and the new pod serves from it."""
    claim, path = "tiny-llama-weights", MODELS.parent / "claim"
    local_volume(served, path, claim)
    before = pod_names(served.cluster)
    served.apply("storage.type=existingClaim", f"storage.existingClaim={claim}",
                 doing=f"helmfile -e {LIVE_ENV} apply of {RELEASE} onto claim {claim}")
    pod = served.pod = wait_rolled_out(served.cluster, f"moving onto claim {claim}", before)
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
    the init container fails with S3's own error (SignatureDoesNotMatch, as on AWS), vLLM never starts, no
    completion marker is written, and the pod the failed rollout would have replaced still serves."""
    secret, model = "tiny-llama-s3-wrong", "/models/tiny-llama-wrong-key"
    served.cluster.kubectl("create", "secret", "generic", "-n", NAMESPACE, secret,
                           f"--from-literal=AWS_ACCESS_KEY_ID={served.s3['access_key_id']}",
                           "--from-literal=AWS_SECRET_ACCESS_KEY=not-the-key-s3-issued",
                           doing=f"creating Secret {secret} with a wrong secret key")
    before = pod_names(served.cluster)
    served.apply(f"storage.download.s3.credentialsSecret.name={secret}", f"deployment.model={model}",
                 doing=f"helmfile -e {LIVE_ENV} apply of {RELEASE} with Secret {secret}")
    with pytest.raises(AssertionError) as failed:
        wait_rolled_out(served.cluster, f"downloading with Secret {secret}", before)
    message = str(failed.value)
    assert "model-download" in message and "SignatureDoesNotMatch" in message, (
        f"environment {LIVE_ENV}, release {RELEASE}, container model-download: a wrong secret key should fail the "
        f"download naming S3's error; the wait said:\n{message}")
    directory = MODELS / Path(model).name
    assert not (directory / ".vllm-models-complete").exists(), f"{served.where}: {directory} was marked complete"
    status, completion = call(f"{served.base}/v1/completions",
                              {"model": SPEC["deployment"]["servedModelName"], "prompt": "Still", "max_tokens": 4})
    assert status == 200, (f"{served.where}: the serving pod stopped answering while the new one failed "
                           f"(maxUnavailable 0 keeps it): {status} {completion}")
