"""Every environment installed, rolled out, drained and faulted on a real control plane.

Each test starts its own plane (e2e/plane.py): etcd, kube-apiserver, kube-controller-manager and
kube-scheduler built from k8s.io/kubernetes, and kwok's simulated GPU nodes made from the environment's
node pools. The releases go in with the real helmfile and helm, exactly as an operator applies them.
LeaderWorkerSets are admitted and validated (their CRD is installed) but no LWS controller runs here,
so a multi-node group creates no pods; those releases are checked for admission only.
"""
from __future__ import annotations

import dataclasses
import json
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from cluster import NAMESPACE, E2EError, pod_gpus, rolled_out
from conftest import FIGURES
from vllm_models import fit, toolchain
from vllm_models import render as harness

ROOT = toolchain.ROOT
ENVIRONMENTS = harness.environments()
COPIED = ("charts", "environments", "policies", "helmfile.yaml.gotmpl")


def renders_of(env: str) -> list[harness.Rendered]:
    return [harness.render(rel) for rel in harness.model_releases(env)]


def pod_releases(env: str) -> list[harness.Rendered]:
    """The releases whose pods exist on this control plane (not the multi-node groups: no LWS controller)."""
    return [r for r in renders_of(env) if fit.serving(r) and fit.serving(r).kind == "Deployment"]


def install(cluster, env: str, root: Path = ROOT, pools=None) -> None:
    cluster.add_nodes(pools if pools is not None else fit.node_pools(env))
    cluster.install_crds()
    started = time.monotonic()
    cluster.helmfile(env, "apply", root=root)
    FIGURES.setdefault("helmfile apply (s)", {})[env] = round(time.monotonic() - started, 1)


def copy_of(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    for name in COPIED:
        source = ROOT / name
        (shutil.copytree if source.is_dir() else shutil.copy2)(source, root / name)
    return root


# --- Install --------------------------------------------------------------------------------------

@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_environment_installs_and_every_workload_becomes_available(cluster, env):
    install(cluster, env)
    assert cluster.wait_available() == [], f"environment {env}: workloads that never became Available"
    deployments = {d["metadata"]["name"] for d in cluster.get("deployments")}
    expected = {fit.serving(r).name for r in pod_releases(env)}
    assert deployments == expected, f"environment {env}: Deployments {sorted(deployments)}, expected {sorted(expected)}"
    groups = {g["metadata"]["name"] for g in cluster.get("leaderworkersets")}
    assert groups == {fit.serving(r).name for r in renders_of(env) if fit.serving(r).kind == "LeaderWorkerSet"}
    assert cluster.pending() == [], f"environment {env}: pods left Pending: {cluster.pending()}"
    FIGURES.setdefault("workloads installed", {})[env] = len(deployments) + len(groups)


@pytest.mark.parametrize("env", ["staging"])
def test_the_helm_test_hook_of_every_release_is_admitted(cluster, env):
    install(cluster, env)
    for rendered in pod_releases(env):
        hooks = [d for d in rendered.documents if (d.get("metadata", {}).get("annotations") or {}).get("helm.sh/hook")]
        for hook in hooks:
            result = cluster.kubectl("create", "--dry-run=server", "-n", NAMESPACE, "-f", "-",
                                     stdin=json.dumps(hook), check=False, doing="admitting the helm test hook")
            assert result.returncode == 0, (f"environment {env}, release {rendered.release.name}: the API server "
                                            f"refuses its helm test {hook['kind']}: {result.stderr.strip()}")


# --- Placement: the fit check and the scheduler agree -----------------------------------------------

def smallest_pool_that_holds(env: str, releases: list[harness.Rendered]) -> tuple[fit.Pool, ...]:
    """The environment's first pool shrunk to the fewest nodes on which the fit check places every pod."""
    pools = fit.node_pools(env)
    for nodes in range(1, pools[0].nodes + 1):
        shrunk = (dataclasses.replace(pools[0], nodes=nodes), *pools[1:])
        if not fit.place(env, releases, shrunk, surge=False).problems:
            return shrunk
    raise AssertionError(f"environment {env}: the fit check cannot place every pod even on its own node pools")


# The fit check packs first-fit decreasing; the scheduler places pods in the order they arrive (MostAllocated on
# GPUs, priority preemption). Which pod waits can differ (the fit check names the first that finds no node, the
# scheduler may leave a larger one Pending), so the two must agree on whether everything fits, at the boundary:
# on the fewest nodes the fit check says suffice, and on one node fewer.
@pytest.mark.parametrize("fewer", [0, 1], ids=["nodes the fit check says suffice", "one node fewer"])
def test_the_scheduler_and_the_fit_check_agree_on_whether_the_pods_fit(cluster, fewer):
    env = "staging"
    releases = pod_releases(env)
    pools = smallest_pool_that_holds(env, releases)
    if pools[0].nodes - fewer < 1:
        pytest.skip(f"environment {env}: one node of {pools[0].describe()} already holds every pod")
    pools = (dataclasses.replace(pools[0], nodes=pools[0].nodes - fewer), *pools[1:])
    predicted = fit.place(env, releases, pools, surge=False)
    assert bool(predicted.problems) == bool(fewer), predicted.problems
    install(cluster, env, pools=pools)
    if fewer:
        deadline = time.monotonic() + 60
        while not cluster.pending() and time.monotonic() < deadline:
            time.sleep(1)
        pending = cluster.pending()
        assert pending, (f"environment {env} on {pools[0].describe()}: the fit check says some pod finds no node "
                         f"({predicted.problems[0]}), yet the scheduler placed every one")
    else:
        waiting = cluster.wait_available()
        assert waiting == [] and cluster.pending() == [], (
            f"environment {env} on {pools[0].describe()}: the fit check places every pod, yet the scheduler left "
            f"{cluster.pending()} Pending: {waiting}")
    FIGURES.setdefault("placement agrees", []).append(f"{env} on {pools[0].nodes} x {pools[0].name}: "
                                                      f"{'pods wait' if fewer else 'every pod placed'}")


# --- Upgrade -------------------------------------------------------------------------------------

def previous_commit(tmp_path: Path) -> Path:
    root = tmp_path / "previous"
    root.mkdir()
    git = ["git", "-C", str(ROOT)]
    if subprocess.run([*git, "rev-parse", "--verify", "-q", "HEAD~1"], capture_output=True).returncode != 0:
        # A shallow clone (CI's checkout) lacks the parent: fetch one more commit from where it came from.
        subprocess.run([*git, "fetch", "-q", "--deepen=1"], capture_output=True)
    archive = subprocess.run([*git, "archive", "HEAD~1", *COPIED], capture_output=True)
    if archive.returncode != 0:
        raise E2EError(f"the previous commit of main is not in this clone (git archive HEAD~1: "
                       f"{archive.stderr.decode().strip()}); clone with history (fetch-depth 2 or more)")
    subprocess.run(["tar", "-x", "-C", str(root)], input=archive.stdout, check=True)
    return root


@pytest.mark.parametrize("env", ["staging"])
def test_the_environment_as_it_was_at_the_previous_commit_upgrades_to_the_current_one(cluster, env, tmp_path):
    old = previous_commit(tmp_path)
    install(cluster, env, root=old)
    cluster.wait_available()
    cluster.helmfile(env, "apply")
    assert cluster.wait_available() == [], f"environment {env}: the upgrade from the previous commit did not settle"
    assert cluster.pending() == []


def test_a_planted_selector_change_is_refused_by_the_api_server_naming_the_release(cluster, tmp_path):
    env = "development"
    root = copy_of(tmp_path)
    install(cluster, env, root=root)
    helpers = root / "charts/vllm-models/templates/_helpers.tpl"
    text = helpers.read_text()
    changed = re.sub(r'(define "vllm-models.selectorLabels" -\}\}\n)', r'\1planted: "yes"\n', text, count=1)
    assert changed != text, "the selector helper moved: update this planted change"
    helpers.write_text(changed)
    result = cluster.helmfile(env, "apply", root=root, check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0, "an immutable selector change was accepted"
    assert "field is immutable" in output and "spec.selector" in output, output[-3000:]
    assert re.search(r"llms-v2-[a-z0-9-]+", output), "the failure names the release"


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_a_whole_environment_image_bump_rolls_out_within_quota_and_nodes(cluster, env, tmp_path):
    root = copy_of(tmp_path)
    install(cluster, env, root=root)
    assert cluster.wait_available() == []
    quota = int(cluster.get("resourcequotas")[0]["spec"]["hard"]["requests.nvidia.com/gpu"])
    tag = re.compile(r'(\btag: )"?v(\d+)\.(\d+)\.(\d+)"?')
    old_tags = set()
    for path in (root / "environments" / env).rglob("*.yaml"):
        text = path.read_text()
        old_tags |= {f"v{m.group(2)}.{m.group(3)}.{m.group(4)}" for m in tag.finditer(text)}
        path.write_text(tag.sub(lambda m: f'{m.group(1)}"v{m.group(2)}.{m.group(3)}.{int(m.group(4)) + 1}"', text))
    started = time.monotonic()
    cluster.helmfile(env, "apply", root=root)
    peak, waited = 0, set()
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        peak = max(peak, cluster.gpus_requested())
        waited |= set(cluster.pending())
        if all(rolled_out(d) for d in cluster.get("deployments")):
            break
        time.sleep(0.5)
    assert cluster.wait_available(timeout=5) == [], f"environment {env}: the image bump never finished rolling out"
    stale = {f"{p['metadata']['name']}: {c['image']}" for p in cluster.get("pods") for c in p["spec"]["containers"]
             if c["name"] == "vllm" and harness.image_tag(c["image"]) in old_tags}
    assert not stale, f"environment {env}: pods still run the old vLLM after the bump: {sorted(stale)}"
    FIGURES.setdefault("image bump", {})[env] = {"rolled out in (s)": round(time.monotonic() - started, 1), "peak GPUs": peak,
                                       "quota GPUs": quota, "pods that waited": len(waited)}
    assert peak <= quota


# --- Faults ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("env", ["staging"])
def test_draining_a_gpu_node_honours_every_budget_and_its_pods_find_other_nodes(cluster, env):
    install(cluster, env)
    assert cluster.wait_available() == []
    pods = [p for p in cluster.get("pods") if p["spec"].get("nodeName")]
    busiest = max({p["spec"]["nodeName"] for p in pods}, key=lambda n: sum(pod_gpus(p) for p in pods
                                                                          if p["spec"]["nodeName"] == n))
    started = time.monotonic()
    result = cluster.kubectl("drain", busiest, "--ignore-daemonsets", "--delete-emptydir-data", "--timeout=180s",
                             check=False, doing=f"draining {busiest}", timeout=240)
    assert result.returncode == 0, f"environment {env}: kubectl drain {busiest} failed:\n{result.stderr[-3000:]}"
    assert cluster.wait_available() == [], f"environment {env}: after draining {busiest}, workloads did not recover"
    assert all(p["spec"].get("nodeName") != busiest for p in cluster.get("pods"))
    FIGURES.setdefault("drains honoured", []).append(f"{env}/{busiest} in {round(time.monotonic() - started, 1)}s")


@pytest.mark.parametrize("env", ["staging"])
def test_the_pods_of_a_lost_node_are_placed_again_where_capacity_allows(cluster, env):
    install(cluster, env)
    assert cluster.wait_available() == []
    pods = [p for p in cluster.get("pods") if p["spec"].get("nodeName")]
    lost = pods[0]["spec"]["nodeName"]
    cluster.kubectl("delete", "node", lost, doing=f"losing {lost}")
    pools = [dataclasses.replace(fit.node_pools(env)[0], nodes=fit.node_pools(env)[0].nodes - 1)]
    predicted = fit.place(env, pod_releases(env), pools, surge=False)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and any(p["spec"].get("nodeName") == lost for p in cluster.get("pods")):
        time.sleep(1)
    if predicted.problems:
        time.sleep(5)
        assert cluster.pending(), f"the fit check says some pods cannot be placed without {lost}: {predicted.problems}"
    else:
        assert cluster.wait_available() == [], f"environment {env}: pods of lost node {lost} were not placed again"


def test_a_release_over_the_quota_is_refused_by_resource_quota_admission(cluster):
    env = "development"
    install(cluster, env)
    quota = cluster.get("resourcequotas")[0]
    hard = int(quota["spec"]["hard"]["requests.nvidia.com/gpu"])
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "over-quota", "namespace": NAMESPACE},
           "spec": {"containers": [{"name": "c", "image": "registry.invalid/x:1", "resources": {
               "limits": {"nvidia.com/gpu": hard + 1, "cpu": "1", "memory": "1Gi"},
               "requests": {"nvidia.com/gpu": hard + 1, "cpu": "1", "memory": "1Gi"}}}]}}
    result = cluster.kubectl("create", "-f", "-", stdin=json.dumps(pod), check=False, doing="creating an over-quota pod")
    assert result.returncode != 0 and "exceeded quota" in result.stderr, result.stderr


def test_a_planted_release_over_the_quota_fails_with_the_quota_named(cluster, tmp_path):
    env = "development"
    root = copy_of(tmp_path)
    values = root / "environments" / env / "values.yaml"
    values.write_text(re.sub(r"(\n    requests\.nvidia\.com/gpu: )\d+", r"\g<1>2", values.read_text()))
    install(cluster, env, root=root)
    waiting = cluster.wait_available(timeout=30)
    assert waiting, "releases needing more GPUs than the quota all became Available"
    assert any("exceeded quota" in line for line in waiting), waiting


def test_a_pod_the_namespaces_pod_security_level_forbids_is_refused(cluster):
    env = "development"
    install(cluster, env)
    level = cluster.kubectl("get", "namespace", NAMESPACE, "-o", "json").stdout
    enforced = json.loads(level)["metadata"]["labels"]["pod-security.kubernetes.io/enforce"]
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "restricted-check", "labels": {
        "pod-security.kubernetes.io/enforce": "restricted"}}}
    cluster.kubectl("create", "-f", "-", stdin=json.dumps(namespace), doing="creating a restricted namespace")
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "host-path", "namespace": "restricted-check"},
           "spec": {"containers": [{"name": "c", "image": "registry.invalid/x:1"}],
                    "volumes": [{"name": "models", "hostPath": {"path": "/models"}}]}}
    result = cluster.kubectl("create", "-f", "-", stdin=json.dumps(pod), check=False, doing="creating a hostPath pod")
    assert result.returncode != 0 and 'violates PodSecurity "restricted' in result.stderr, result.stderr
    assert enforced in ("restricted", "baseline", "privileged")
    FIGURES["pod security"] = f"{env} enforces {enforced}; a hostPath pod in a restricted namespace is refused"


def test_the_crds_are_the_vendored_upstream_files():
    import hashlib
    table = (Path(__file__).parent / "crds" / "PROVENANCE.md").read_text()
    for crd in sorted((Path(__file__).parent / "crds").glob("*.yaml")):
        digest = hashlib.sha256(crd.read_bytes()).hexdigest()
        assert f"| {crd.name} |" in table and digest in table, f"e2e/crds/{crd.name}: sha256 {digest} not in PROVENANCE.md"
        assert yaml.safe_load(crd.read_text())["kind"] == "CustomResourceDefinition"


# --- Gateway API inference routing ------------------------------------------------------------------

def test_the_api_server_admits_the_inference_pool_and_the_route_the_chart_renders(cluster, tmp_path):
    """inferencePool.enabled against the vendored CRDs (InferencePool v1, HTTPRoute v1), CEL rules included."""
    cluster.install_crds()
    values = {"inferencePool": {"enabled": True, "endpointPicker": {"name": "qwen3-epp"},
                                "httpRoute": {"enabled": True, "gatewayName": "inference-gateway"}}}
    overrides = tmp_path / "inference-pool.yaml"
    overrides.write_text(yaml.safe_dump(values))
    example = ROOT / "charts/vllm-models/examples/single-gpu.yaml"
    rendered = harness.render_values_files("llms-v2-qwen3-32b", [example, overrides], namespace=NAMESPACE,
                                           use_cache=False)
    wanted = [doc for doc in rendered.documents if doc.get("kind") in ("InferencePool", "HTTPRoute")]
    assert sorted(doc["kind"] for doc in wanted) == ["HTTPRoute", "InferencePool"]
    cluster.kubectl("create", "namespace", NAMESPACE, check=False, doing="creating the namespace")
    cluster.kubectl("apply", "-f", "-", stdin=yaml.safe_dump_all(wanted), doing="applying the pool and the route")
    [pool] = cluster.get("inferencepools.inference.networking.k8s.io")
    [route] = cluster.get("httproutes.gateway.networking.k8s.io")
    assert pool["spec"]["endpointPickerRef"]["name"] == "qwen3-epp"
    assert route["spec"]["rules"][0]["backendRefs"][0]["name"] == pool["metadata"]["name"]
    FIGURES["inference routing"] = "the API server admits the chart's InferencePool (v1) and HTTPRoute (v1)"
