"""The Deployment: the GPU pod the chart builds, from the examples and from every release of every environment."""
from __future__ import annotations

import re

import pytest

from charts import edited_release, render_chart
from vllm_models import render as harness
from vllm_models import metrics, rules, verify

STANDARD_LABELS = ("app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/version",
                   "app.kubernetes.io/component", "app.kubernetes.io/managed-by", "app.kubernetes.io/part-of",
                   "helm.sh/chart", "model")
UNITS = {"": 1, "k": 10**3, "K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}


def test_a_model_file_whose_gpus_differ_from_tensor_parallel_is_refused_naming_environment_file_and_values(tmp_path):
    rel = edited_release(tmp_path, "staging", "llms-v2-qwen3-32b",
                         lambda values: values["deployment"].update(numGPUs=2))
    with pytest.raises(harness.RenderError) as refused:
        render_chart(release=rel, use_cache=False)
    message = str(refused.value)
    assert message.startswith("environment staging, release llms-v2-qwen3-32b (environments/staging/language/qwen3-32b.yaml): "), message
    assert "deployment.numGPUs is set in environments/staging/language/qwen3-32b.yaml" in message
    assert "deployment.tensorParallel (1) must equal deployment.numGPUs (2)" in message
    assert "helm4 template" not in message, "a chart refusal with its files named needs no helm command dump"


def quantity(text: str) -> float:
    number, unit = re.fullmatch(r"([0-9.]+)([A-Za-z]*)", str(text)).groups()
    return float(number) * UNITS[unit]


def pod_spec(rendered: harness.Rendered) -> dict:
    """The serving pod's spec: the Deployment's, or a multi-node group leader's."""
    return rendered.workload().template["spec"]


def volume(rendered: harness.Rendered, name: str) -> dict:
    return next(v for v in pod_spec(rendered)["volumes"] if v["name"] == name)


def env_of(rendered: harness.Rendered) -> dict:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in rendered.container()["env"]}


def with_values(tmp_path, overrides: dict, example: str = "single-gpu") -> harness.Rendered:
    return render_chart(example=example, values=overrides)


def with_gpus(tmp_path, count: int) -> harness.Rendered:
    """multi-gpu.yaml on `count` GPUs, its shmSize removed so the chart sizes /dev/shm."""
    def edit(values: dict) -> None:
        values.pop("shmSize")
        values["deployment"].update(tensorParallel=count, numGPUs=count)
        for side in ("limits", "requests"):
            values["resources"][side]["nvidia.com/gpu"] = count
    return render_chart(example="multi-gpu", edit=edit)


def where(rendered: harness.Rendered) -> str:
    return f"environment {rendered.release.environment}, release {rendered.release.name}"


def test_every_object_of_every_release_carries_the_standard_labels(rendered):
    for doc in rendered.documents:
        expected = [label for label in STANDARD_LABELS
                    if not (doc["kind"] == "Pod" and label == "model")]  # the helm test pod is no Service endpoint
        missing = [label for label in expected if label not in doc["metadata"].get("labels", {})]
        assert missing == [], f"{where(rendered)}: {doc['kind']} {doc['metadata']['name']} lacks labels {missing}"


SELECTOR_KEYS = ["app.kubernetes.io/instance", "app.kubernetes.io/name", "model"]


def test_every_release_selects_its_pods_by_name_instance_and_model_only(rendered):
    workload = rendered.workload()
    if workload.kind == "Deployment":
        selector = workload.spec["selector"]["matchLabels"]
        assert sorted(selector) == SELECTOR_KEYS, f"{where(rendered)}: Deployment selector {selector}"
    else:  # a LeaderWorkerSet selects its pods by its own name label; the chart's objects by these keys
        selector = {key: workload.template["metadata"]["labels"][key] for key in SELECTOR_KEYS}
    for pod in workload.templates:
        assert selector.items() <= pod.labels.items(), (
            f"{where(rendered)}: {workload.kind} {workload.name} {pod.role} labels {pod.labels} miss the selector {selector}")


def test_every_release_sizes_dev_shm_in_memory_and_below_the_memory_limit(rendered):
    dshm = volume(rendered, "dshm")["emptyDir"]
    limit = rendered.container()["resources"]["limits"]["memory"]
    assert dshm["medium"] == "Memory", f"{where(rendered)}: /dev/shm {dshm}"
    assert quantity(dshm["sizeLimit"]) < quantity(limit), f"{where(rendered)}: /dev/shm {dshm['sizeLimit']} >= memory limit {limit}"
    assert {"name": "dshm", "mountPath": "/dev/shm"} in rendered.container()["volumeMounts"]


def test_every_release_probes_health_on_the_http_port(rendered):
    container = rendered.container()
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"] == {"path": "/health", "port": "http"}, f"{where(rendered)}: {probe} {container[probe]}"
    assert container["ports"] == [{"name": "http", "containerPort": 8000, "protocol": "TCP"}]


def test_every_release_runs_with_the_safe_security_defaults(rendered):
    for template in rendered.workload().templates:  # every pod of a multi-node group too
        pod = template.spec
        here = f"{where(rendered)} ({template.role})"
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, f"{here}: {pod['securityContext']}"
        for container in pod.get("initContainers", []) + pod["containers"]:
            context = container["securityContext"]
            assert "hostPID" not in pod and not context.get("privileged"), f"{here}: {container['name']} privileged"
            assert context["allowPrivilegeEscalation"] is False, f"{here}: {container['name']} {context}"
            assert context["capabilities"] == {"drop": ["ALL"]}, f"{here}: {container['name']} {context}"


def test_every_release_runs_vllm_as_a_non_root_uid_on_a_read_only_image(rendered):
    pod, context = pod_spec(rendered)["securityContext"], rendered.container()["securityContext"]
    uid = context.get("runAsUser", pod.get("runAsUser"))
    assert context.get("runAsNonRoot", pod.get("runAsNonRoot")) is True and uid not in (None, 0), (
        f"{where(rendered)}: Deployment {rendered.one('Deployment')['metadata']['name']} container vllm runs with "
        f"pod securityContext {pod} and container securityContext {context}")
    assert context["readOnlyRootFilesystem"] is True, f"{where(rendered)}: container vllm securityContext {context}"


def writable_mounts(container: dict) -> list[str]:
    return [m["mountPath"] for m in container["volumeMounts"] if not m.get("readOnly")]


def below(path: str, directory: str) -> bool:
    return path == directory or path.startswith(directory.rstrip("/") + "/")


def test_every_directory_vllm_writes_is_on_a_writable_volume_in_every_release(rendered):
    runtime = rules.data()["runtime"]
    container = rendered.container()
    env, mounts = env_of(rendered), writable_mounts(container)
    for name in runtime["userEnv"]:
        assert env.get(name), f"{where(rendered)}: container vllm has no {name} (env {sorted(env)})"
    for name in runtime["writableEnv"]:
        assert any(below(str(env.get(name, "")), m) for m in mounts), (
            f"{where(rendered)}: container vllm env {name}={env.get(name)!r} is below none of its writable mounts {mounts}")
    for path in runtime["writablePaths"]:
        assert any(below(path, m) for m in mounts), f"{where(rendered)}: container vllm writes {path}; writable mounts {mounts}"


def test_the_runtime_directories_are_emptydirs_below_home_by_default():
    rendered = render_chart(example="single-gpu")
    env = env_of(rendered)
    assert {name: env[name] for name in ("HOME", "USER", "LOGNAME", "XDG_CACHE_HOME", "XDG_CONFIG_HOME",
                                         "VLLM_CACHE_ROOT", "TRITON_CACHE_DIR", "VLLM_NO_USAGE_STATS")} == {
        "HOME": "/home/vllm", "USER": "vllm", "LOGNAME": "vllm", "XDG_CACHE_HOME": "/home/vllm/.cache",
        "XDG_CONFIG_HOME": "/home/vllm/.config", "VLLM_CACHE_ROOT": "/home/vllm/.cache/vllm",
        "TRITON_CACHE_DIR": "/home/vllm/.cache/vllm/triton", "VLLM_NO_USAGE_STATS": "1"}
    assert volume(rendered, "home") == {"name": "home", "emptyDir": {"sizeLimit": "20Gi"}}
    assert volume(rendered, "tmp") == {"name": "tmp", "emptyDir": {"sizeLimit": "10Gi"}}
    assert "compile-cache" not in [v["name"] for v in pod_spec(rendered)["volumes"]]


def test_a_compile_cache_claim_is_mounted_at_vllms_cache_root_and_survives_restarts(tmp_path):
    rendered = with_values(tmp_path, {"runtime": {"compileCache": {"existingClaim": "vllm-compile-cache"},
                                                  "home": {"path": "/cache", "sizeLimit": None}}})
    env = env_of(rendered)
    assert volume(rendered, "compile-cache") == {"name": "compile-cache",
                                                 "persistentVolumeClaim": {"claimName": "vllm-compile-cache"}}
    assert {"name": "compile-cache", "mountPath": "/cache/.cache/vllm"} in rendered.container()["volumeMounts"]
    assert (env["HOME"], env["VLLM_CACHE_ROOT"], env["TRITON_CACHE_DIR"]) == (
        "/cache", "/cache/.cache/vllm", "/cache/.cache/vllm/triton")
    assert volume(rendered, "home") == {"name": "home", "emptyDir": {}}


def test_usage_statistics_are_off_unless_asked_for(tmp_path):
    assert "VLLM_NO_USAGE_STATS" not in env_of(with_values(tmp_path, {"runtime": {"usageStats": True}}))


@pytest.mark.parametrize("model, offline", [("/models/Qwen/Qwen3-32B-FP8", True), ("Qwen/Qwen3-32B-FP8", False)])
def test_local_weights_run_offline_and_a_hugging_face_id_does_not(model, offline, tmp_path):
    rendered = with_values(tmp_path, {"deployment": {"model": model},
                                      "storage": {"type": "existingClaim", "existingClaim": "models"}})
    env = env_of(rendered)
    switches = {name: env.get(name) for name in rules.data()["offline"]["env"]}
    assert switches == {name: ("1" if offline else None) for name in switches}, f"deployment.model {model}: env {switches}"


def test_every_release_with_local_weights_runs_offline(rendered):
    model = rendered.container()["args"][0]
    env = env_of(rendered)
    if model.startswith("/"):
        missing = [name for name in rules.data()["offline"]["env"] if env.get(name) != "1"]
        assert not missing, f"{where(rendered)}: Deployment serves local weights {model} but {missing} are not 1"


def test_the_model_metadata_is_stamped_for_policies():
    deployment = render_chart(example="moe").one("Deployment")
    labels = deployment["metadata"]["labels"]
    assert {k: labels[k] for k in ("model", "vllm-models.io/category", "vllm-models.io/architecture",
                                   "vllm-models.io/size-class", "app.kubernetes.io/version")} == {
        "model": "deepseek-r1", "vllm-models.io/category": "language", "vllm-models.io/architecture": "moe",
        "vllm-models.io/size-class": "massive", "app.kubernetes.io/version": "v0.10.2"}
    assert deployment["metadata"]["annotations"] == {
        "vllm-models.io/parameters-billions": "671", "vllm-models.io/served-model-name": "DeepSeek-R1",
        "vllm-models.io/startup-budget-seconds": "2400"}


def test_gpu_requests_and_limits_follow_num_gpus_when_resources_leave_them_out(tmp_path):
    rendered = render_chart(example="multi-gpu", edit=lambda v: [v["resources"][side].pop("nvidia.com/gpu") for side in ("limits", "requests")])
    resources = rendered.container()["resources"]
    assert resources["limits"]["nvidia.com/gpu"] == resources["requests"]["nvidia.com/gpu"] == 4


def test_requests_default_to_the_limits(tmp_path):
    rendered = render_chart(example="single-gpu", edit=lambda v: v["resources"].pop("requests"))
    resources = rendered.container()["resources"]
    assert resources["requests"] == resources["limits"] == {"cpu": "16", "memory": "200Gi", "nvidia.com/gpu": 1}


@pytest.mark.parametrize("count, size", [(2, "16Gi"), (4, "32Gi"), (8, "64Gi")])
def test_dev_shm_defaults_to_the_seeds_table_by_gpus_per_pod(count, size, tmp_path):
    assert volume(with_gpus(tmp_path, count), "dshm")["emptyDir"] == {"medium": "Memory", "sizeLimit": size}


def test_one_gpu_gets_the_tables_16gi_dev_shm_and_no_nccl_settings(tmp_path):
    rendered = with_values(tmp_path, {"nccl": {"gpuMem": True, "logLevel": "INFO"}})
    assert volume(rendered, "dshm")["emptyDir"]["sizeLimit"] == "16Gi"
    assert not [name for name in env_of(rendered) if name.startswith("NCCL_")]


def test_nccl_settings_become_environment_variables_on_multi_gpu_pods(tmp_path):
    assert env_of(with_values(tmp_path, {"nccl": {"logLevel": "INFO"}}, "multi-gpu"))["NCCL_DEBUG"] == "INFO"


@pytest.mark.parametrize("gpu_mem, value", [(None, None), (True, "1"), (False, "0")])
def test_nccl_cumem_is_left_to_vllm_and_nccl_unless_set(gpu_mem, value, tmp_path):
    env = env_of(with_values(tmp_path, {"nccl": {"gpuMem": gpu_mem}}, "multi-gpu"))
    assert env.get("NCCL_CUMEM_ENABLE") == value, f"nccl.gpuMem {gpu_mem}: env {env}"


@pytest.mark.parametrize("tag, refused", [("v0.10.1.1", True), ("v0.10.2", False), ("v0.4.2", False), ("v0.4.3", True)])
def test_cumem_on_is_refused_only_where_vllm_turns_it_off_on_purpose(tag, refused, tmp_path):
    values = {"nccl": {"gpuMem": True}, "image": {"tag": tag}}
    if refused:
        with pytest.raises(harness.RenderError, match=r"nccl.gpuMem is true \(NCCL_CUMEM_ENABLE=1\), but vLLM " + tag):
            with_values(tmp_path, values, "multi-gpu")
    else:
        assert env_of(with_values(tmp_path, values, "multi-gpu"))["NCCL_CUMEM_ENABLE"] == "1"
    assert "NCCL_CUMEM_ENABLE" not in env_of(with_values(tmp_path, values)), "one GPU runs no collectives"


def test_no_release_overrides_nccls_cumem_choice(rendered):
    """The fleet serves on one node: cuMem buys nothing there, and NCCL's default stands (rules.yaml nccl)."""
    env = env_of(rendered)
    assert "NCCL_CUMEM_ENABLE" not in env, (
        f"{where(rendered)}: Deployment {rendered.one('Deployment')['metadata']['name']} sets NCCL_CUMEM_ENABLE="
        f"{env['NCCL_CUMEM_ENABLE']} (nccl.gpuMem); single-node serving gains nothing from overriding it")


def test_the_hugging_face_token_comes_from_a_secret_reference(tmp_path):
    rendered = with_values(tmp_path, {"huggingface": {"tokenSecret": {"name": "hf", "key": "hf-token"}}})
    assert env_of(rendered)["HF_TOKEN"] == {"secretKeyRef": {"name": "hf", "key": "hf-token"}}


def test_scheduling_settings_reach_the_pod(tmp_path):
    pod = pod_spec(with_values(tmp_path, {"runtimeClassName": "nvidia", "priorityClassName": "gpu-critical",
                                          "global": {"nodeSelector": {"pool": "gpu", "zone": "a"}},
                                          "nodeSelector": {"zone": "b"}}))
    assert pod["runtimeClassName"] == "nvidia"
    assert pod["priorityClassName"] == "gpu-critical"
    assert pod["nodeSelector"] == {"pool": "gpu", "zone": "b"}
    assert pod["tolerations"] == [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]


def test_the_environments_priority_class_applies_when_the_release_sets_none(tmp_path):
    assert pod_spec(with_values(tmp_path, {"global": {"priorityClassName": "gpu-high"}}))["priorityClassName"] == "gpu-high"
    assert "priorityClassName" not in pod_spec(render_chart(example="single-gpu"))


def test_gpu_products_join_every_required_node_term(tmp_path):
    product = {"key": "nvidia.com/gpu.product", "operator": "In", "values": ["NVIDIA-H100-80GB-HBM3"]}
    alone = pod_spec(with_values(tmp_path, {"gpuProducts": ["NVIDIA-H100-80GB-HBM3"]}))["affinity"]
    assert alone == {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchExpressions": [product]}]}}}
    zone_a = {"key": "zone", "operator": "In", "values": ["a"]}
    pool = {"key": "pool", "operator": "Exists"}
    merged = pod_spec(with_values(tmp_path, {"gpuProducts": ["NVIDIA-H100-80GB-HBM3"], "affinity": {"nodeAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
            {"matchExpressions": [zone_a]}, {"matchExpressions": [pool]}]}}}}))["affinity"]
    assert merged["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"] == [
        {"matchExpressions": [zone_a, product]}, {"matchExpressions": [pool, product]}]


def test_topology_spread_counts_the_releases_pods_unless_told_otherwise(tmp_path):
    constraint = {"maxSkew": 1, "topologyKey": "kubernetes.io/hostname", "whenUnsatisfiable": "DoNotSchedule"}
    own = {**constraint, "topologyKey": "zone", "labelSelector": {"matchLabels": {"team": "inference"}}}
    spread = pod_spec(with_values(tmp_path, {"deployment": {"topologySpreadConstraints": [constraint, own]}}))[
        "topologySpreadConstraints"]
    assert spread == [{**constraint, "labelSelector": {"matchLabels": {
        "app.kubernetes.io/name": "vllm-models", "app.kubernetes.io/instance": "llms-v2-qwen3-32b", "model": "qwen3-32b"}}},
        own]


@pytest.mark.parametrize("seconds, threshold", [(1800, 360), (1801, 361)])
def test_slow_start_turns_one_number_into_the_startup_probe(seconds, threshold, tmp_path):
    rendered = with_values(tmp_path, {"slowStart": {"maxStartupSeconds": seconds}, "probes": {"startup": {"failureThreshold": None}}})
    assert rendered.container()["startupProbe"]["failureThreshold"] == threshold
    assert rendered.one("Deployment")["spec"]["progressDeadlineSeconds"] == threshold * 5 + 600


@pytest.mark.parametrize("parameters, architecture, threshold, grace", [
    (8, "dense", 60, 60), (32, "dense", 120, 120), (70, "dense", 180, 120), (405, "dense", 360, 180),
    (671, "dense", 480, 180), (671, "moe", 480, 300)])
def test_startup_budget_and_grace_come_from_the_seeds_tables_by_size(parameters, architecture, threshold, grace, tmp_path):
    def edit(values: dict) -> None:
        values["modelInfo"].update(parameters=parameters, architecture=architecture)
        values["deployment"].pop("terminationGracePeriodSeconds")
        values["probes"]["startup"].pop("failureThreshold")
    rendered = render_chart(example="single-gpu", edit=edit)
    assert rendered.container()["startupProbe"]["failureThreshold"] == threshold
    assert pod_spec(rendered)["terminationGracePeriodSeconds"] == grace


def test_a_pre_stop_pause_lets_endpoints_drain_before_vllm_stops(tmp_path):
    lifecycle = with_values(tmp_path, {"deployment": {"preStopSleepSeconds": 30}}).container()["lifecycle"]
    assert lifecycle == {"preStop": {"exec": {"command": ["sleep", "30"]}}}


def test_rollouts_add_a_pod_before_removing_one_unless_recreate_is_chosen(tmp_path):
    assert render_chart(example="single-gpu").one("Deployment")["spec"]["strategy"] == {
        "type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}}
    recreate = with_values(tmp_path, {"deployment": {"updateStrategy": {"type": "Recreate"}}})
    assert recreate.one("Deployment")["spec"]["strategy"] == {"type": "Recreate"}


def test_the_page_cache_drop_is_an_opt_in_that_runs_before_every_vllm_start(tmp_path):
    rendered = with_values(tmp_path, {"dropPageCache": {"enabled": True}})
    container = rendered.container()
    assert container["command"] == ["/bin/sh", "-c", 'sync && echo 3 > /proc/sys/vm/drop_caches && exec vllm serve "$@"',
                                    "vllm-serve"]
    assert container["args"] == render_chart(example="single-gpu").container()["args"]
    assert container["securityContext"]["privileged"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is True
    assert (container["securityContext"]["runAsUser"], container["securityContext"]["runAsNonRoot"]) == (0, False)
    assert pod_spec(rendered)["hostPID"] is True


def test_prometheus_scrape_annotations_are_on_by_default_and_can_be_turned_off(tmp_path):
    on = render_chart(example="single-gpu").one("Deployment")["spec"]["template"]["metadata"]["annotations"]
    assert {k: on[k] for k in ("prometheus.io/scrape", "prometheus.io/port", "prometheus.io/path")} == {
        "prometheus.io/scrape": "true", "prometheus.io/port": "8000", "prometheus.io/path": "/metrics"}
    off = with_values(tmp_path, {"metrics": {"podAnnotations": False}}).one("Deployment")
    assert not [k for k in off["spec"]["template"]["metadata"]["annotations"] if k.startswith("prometheus.io/")]


def test_extra_pod_labels_and_annotations_are_added_next_to_the_charts(tmp_path):
    template = with_values(tmp_path, {"deployment": {"podLabels": {"team": "inference"},
                                                     "podAnnotations": {"example.com/owner": "ml"}}}).one("Deployment")["spec"]["template"]
    assert template["metadata"]["labels"]["team"] == "inference"
    assert template["metadata"]["labels"]["model"] == "qwen3-32b"
    assert template["metadata"]["annotations"]["example.com/owner"] == "ml"


FAKE_DIGEST = "sha256:" + "0123456789abcdef" * 4  # a test value: real digests come from the registry


def test_a_digest_pins_the_image_and_the_tag_stays_the_version_every_check_reads(tmp_path):
    rendered = with_values(tmp_path, {"image": {"digest": FAKE_DIGEST}})
    container = rendered.container()
    assert container["image"] == f"vllm/vllm-openai:v0.10.2@{FAKE_DIGEST}"
    assert container["imagePullPolicy"] == "IfNotPresent"
    assert rendered.one("Deployment")["metadata"]["labels"]["app.kubernetes.io/version"] == "v0.10.2"
    assert verify.image_version(container) == metrics.image_tag(rendered) == "v0.10.2"
    assert verify.vllm_arguments(rendered) == [], "the vLLM catalog of the tag is found behind a digest"


@pytest.mark.parametrize("image, policy", [({}, "Always"), ({"digest": FAKE_DIGEST}, "IfNotPresent"),
                                          ({"pullPolicy": "IfNotPresent"}, "IfNotPresent"),
                                          ({"digest": FAKE_DIGEST, "pullPolicy": "Always"}, "Always")])
def test_the_pull_policy_follows_the_digest_unless_set(image, policy, tmp_path):
    rendered = with_values(tmp_path, {"image": image})
    assert rendered.container()["imagePullPolicy"] == policy, f"image {image}"


def test_no_release_runs_remote_code_without_the_reason_its_model_file_gives(rendered):
    workload = rendered.workload()
    annotations = workload.object["metadata"].get("annotations") or {}
    remote = rules.data()["remoteCode"]
    flags = [arg for arg in rendered.container()["args"] if arg in remote["flags"]]
    if flags:
        assert annotations.get(remote["reasonAnnotation"], "").strip(), (
            f"{where(rendered)}: {workload.kind} {workload.name} runs {flags[0]} with no reason (annotations "
            f"{annotations})")


def test_remote_code_is_off_by_default_and_on_with_its_reason_stamped(tmp_path):
    assert "--trust-remote-code" not in render_chart(example="single-gpu").container()["args"]
    rendered = with_values(tmp_path, {"deployment": {"trustRemoteCode": True,
                                                     "trustRemoteCodeReason": " Phi3VForCausalLM: no native phi3_v "}})
    assert "--trust-remote-code" in rendered.container()["args"]
    for where_, metadata in (("Deployment", rendered.one("Deployment")["metadata"]),
                             ("pod template", rendered.one("Deployment")["spec"]["template"]["metadata"])):
        assert metadata["annotations"]["vllm-models.io/trust-remote-code"] == "Phi3VForCausalLM: no native phi3_v", where_
