"""Multi-node serving: multiNode.nodes > 1 renders a LeaderWorkerSet group whose leader serves the API.

Renders start from charts/vllm-models/examples/multi-node.yaml (two nodes of eight GPUs, vLLM v0.11.0)
or from a single-node example; expectations come from those values and from rules.yaml.
"""
from __future__ import annotations

import pytest
import yaml

from charts import render_chart
from vllm_models import capacity, chart_examples, fleet, toolchain, verify, vllm_versions
from vllm_models import render as harness

EXAMPLE = "multi-node"
# An image that installs Ray itself: the stock image has none from rules.yaml vllm.stockImageWithoutRay.
WITH_RAY = "registry.example.com/vllm-openai-ray"
VLLM_RULES = yaml.safe_load((toolchain.CHART_DIR / "rules.yaml").read_text())["rules"]["vllm"]
NATIVE_FROM = VLLM_RULES["nativeMultiNode"]["from"]
# The first catalogued vLLM with --shutdown-timeout (vllm-versions.yaml).
SHUTDOWN_TAG = "v" + next(e["version"] for e in vllm_versions.committed()["versions"] if e["flags"]["--shutdown-timeout"])


def example_values() -> dict:
    return chart_examples.values(EXAMPLE)


def group(values: dict | None = None, **kwargs) -> harness.Rendered:
    return render_chart(values, example=EXAMPLE, **kwargs)


def templates(rendered: harness.Rendered) -> dict[str, harness.PodTemplate]:
    return {pod.role: pod for pod in rendered.workload().templates}


def vllm(pod: harness.PodTemplate) -> dict:
    return next(c for c in pod.spec["containers"] if c["name"] == "vllm")


def where(rendered: harness.Rendered, kind: str = "LeaderWorkerSet") -> str:
    return f"example {EXAMPLE}, release {rendered.release.name}, {kind} {rendered.release.name}"


def version_after(version: str) -> str:
    major, minor, patch = (int(part) for part in version.split("."))
    return f"{major}.{minor}.{patch + 1}"


def version_before(version: str) -> str:
    major, minor, patch = (int(part) for part in version.split("."))
    return f"{major}.{minor}.{patch - 1}" if patch else f"{major}.{minor - 1}.99"


class TestTheWorkloadKind:
    def test_more_than_one_node_renders_a_leaderworkerset_of_that_size_instead_of_a_deployment(self):
        rendered = group()
        nodes = example_values()["multiNode"]["nodes"]
        assert rendered.objects("Deployment") == [], f"{where(rendered)}: a Deployment rendered beside the group"
        lws = rendered.one("LeaderWorkerSet")
        assert lws["apiVersion"] == "leaderworkerset.x-k8s.io/v1"
        assert lws["spec"]["leaderWorkerTemplate"]["size"] == nodes, f"{where(rendered)}: size {lws['spec']}"
        assert lws["spec"]["replicas"] == example_values().get("replicaCount", 1)

    def test_one_node_renders_a_deployment_and_no_leaderworkerset(self):
        rendered = group({"multiNode": {"nodes": 1}, "deployment": {"pipelineParallel": 1}})
        assert [w.kind for w in rendered.workloads()] == ["Deployment"], (
            f"{where(rendered, 'Deployment')}: rendered {[w.kind for w in rendered.workloads()]}")

    def test_the_group_restarts_as_one_and_starts_its_workers_with_the_leader(self):
        spec = group().one("LeaderWorkerSet")["spec"]
        assert spec["leaderWorkerTemplate"]["restartPolicy"] == "RecreateGroupOnPodRestart"
        assert spec["startupPolicy"] == "LeaderCreated"

    def test_the_group_carries_the_model_facts_the_policies_read(self):
        metadata = group().one("LeaderWorkerSet")["metadata"]
        assert metadata["annotations"]["vllm-models.io/parameters-billions"] == str(example_values()["modelInfo"]["parameters"])
        assert metadata["labels"]["vllm-models.io/size-class"] == "xlarge"


class TestLeaderAndWorkers:
    def test_the_leader_and_the_workers_run_one_pod_spec_apart_from_serving(self):
        pods = templates(group())
        assert set(pods) == {"leader", "worker"}
        leader, worker = vllm(pods["leader"]), vllm(pods["worker"])
        for field in ("image", "env", "resources", "securityContext", "volumeMounts"):
            assert leader[field] == worker[field], f"{field}: leader {leader[field]} != worker {worker[field]}"
        for field in ("volumes", "tolerations", "priorityClassName", "affinity", "securityContext",
                      "terminationGracePeriodSeconds"):
            assert pods["leader"].spec.get(field) == pods["worker"].spec.get(field), f"pod {field} differs"
        assert pods["leader"].template["metadata"]["labels"] == pods["worker"].template["metadata"]["labels"]

    def test_only_the_leader_serves_http_is_probed_and_is_scraped(self):
        pods = templates(group())
        leader, worker = vllm(pods["leader"]), vllm(pods["worker"])
        assert leader["ports"] == [{"name": "http", "containerPort": 8000, "protocol": "TCP"}]
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            assert leader[probe]["httpGet"] == {"path": "/health", "port": "http"}, f"leader {probe}"
            assert probe not in worker, f"worker has a {probe}, but a worker serves no HTTP"
        assert "ports" not in worker
        assert pods["leader"].template["metadata"]["annotations"]["prometheus.io/scrape"] == "true"
        assert "prometheus.io/scrape" not in pods["worker"].template["metadata"]["annotations"]

    def test_every_pod_of_the_group_holds_the_gpus_per_node_and_guaranteed_qos(self):
        gpus = example_values()["deployment"]["numGPUs"]
        for role, pod in templates(group()).items():
            resources = vllm(pod)["resources"]
            assert resources["limits"]["nvidia.com/gpu"] == gpus, f"{role}: {resources}"
            assert resources["limits"] == resources["requests"], f"{role}: {resources}"

    def test_every_pod_mounts_dev_shm_and_gets_nccl_and_its_own_address(self):
        for role, pod in templates(group()).items():
            env = {e["name"]: e.get("value", e.get("valueFrom")) for e in vllm(pod)["env"]}
            assert env["VLLM_HOST_IP"] == {"fieldRef": {"fieldPath": "status.podIP"}}, f"{role}: {env}"
            assert env["NCCL_DEBUG"] == example_values()["nccl"]["logLevel"], f"{role}: {env}"
            assert {"name": "dshm", "mountPath": "/dev/shm"} in vllm(pod)["volumeMounts"], role

    def test_one_gpu_per_node_still_gets_the_nccl_settings(self):
        rendered = group({"deployment": {"numGPUs": 1, "tensorParallel": 1, "pipelineParallel": 2}})
        env = {e["name"] for e in rendered.container()["env"]}
        assert "NCCL_DEBUG" in env, f"{where(rendered)}: a 2-node group of 1 GPU each runs collectives; env {env}"

    def test_a_worker_outlasts_its_leaders_pause_and_drain(self):
        pause = 20
        rendered = group({"deployment": {"preStopSleepSeconds": pause, "terminationGracePeriodSeconds": 300,
                                         "shutdownTimeoutSeconds": 60}, "image": {"tag": SHUTDOWN_TAG}})
        pods = templates(rendered)
        assert vllm(pods["leader"])["lifecycle"]["preStop"]["exec"]["command"] == ["sleep", str(pause)]
        assert vllm(pods["worker"])["lifecycle"]["preStop"]["exec"]["command"] == ["sleep", str(pause + 60)]

    def test_placement_and_priority_apply_to_every_pod_of_the_group(self):
        rendered = group({"nodeSelector": {"pool": "h100"}})
        for role, pod in templates(rendered).items():
            assert pod.spec["nodeSelector"] == {"pool": "h100"}, role
            assert pod.spec["priorityClassName"] == example_values()["priorityClassName"], role
            terms = pod.spec["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
            assert terms[0]["matchExpressions"][-1]["values"] == example_values()["gpuProducts"], role

    def test_an_exclusive_topology_keeps_each_group_in_its_own_domain(self):
        lws = group({"multiNode": {"exclusiveTopology": "example.com/nvlink-domain"}}).one("LeaderWorkerSet")
        assert lws["metadata"]["annotations"]["leaderworkerset.sigs.k8s.io/exclusive-topology"] == "example.com/nvlink-domain"
        assert "leaderworkerset.sigs.k8s.io/exclusive-topology" not in group().one("LeaderWorkerSet")["metadata"]["annotations"]


class TestLaunch:
    def test_on_a_vllm_without_native_flags_auto_launches_with_ray(self):
        pods = templates(group())
        script = VLLM_RULES["rayScript"][0]["path"]
        budget = int(group().one("LeaderWorkerSet")["metadata"]["annotations"]["vllm-models.io/startup-budget-seconds"])
        leader, worker = vllm(pods["leader"]), vllm(pods["worker"])
        assert leader["command"] == ["/bin/sh", "-c", f"bash {script} leader --ray_cluster_size=2 "
                                     f"--ray_init_timeout={budget} && exec vllm serve \"$@\"", "vllm-serve"]
        assert leader["args"][-2:] == ["--distributed-executor-backend", "ray"]
        assert worker["command"] == ["/bin/sh", "-c", f"exec bash {script} worker --ray_address=$(LWS_LEADER_ADDRESS)"]
        assert "args" not in worker

    @pytest.mark.parametrize("row", VLLM_RULES["rayScript"], ids=[row["from"] for row in VLLM_RULES["rayScript"]])
    def test_the_ray_script_path_follows_the_images_vllm_version(self, row):
        tag = f"v{row['from']}" if row["from"] != "0.0.0" else "v0.10.2"
        command = vllm(templates(group({"image": {"tag": tag, "repository": WITH_RAY},
                                        "multiNode": {"launcher": "ray"}}))["worker"])["command"]
        assert f"exec bash {row['path']} worker" in command[2], f"image {tag}: {command}"

    def test_the_version_before_the_script_moved_keeps_the_old_path(self):
        moved = VLLM_RULES["rayScript"][1]
        tag = "v" + version_before(moved["from"])
        command = vllm(templates(group({"image": {"tag": tag, "repository": WITH_RAY},
                                        "multiNode": {"launcher": "ray"}}))["worker"])["command"]
        assert VLLM_RULES["rayScript"][0]["path"] in command[2], f"image {tag}: {command}"

    def test_auto_launches_natively_from_the_version_with_the_flags(self):
        rendered = group({"image": {"tag": f"v{NATIVE_FROM}"}})
        pods = templates(rendered)
        native = ["--nnodes", "2", "--node-rank", "$(LWS_WORKER_INDEX)", "--master-addr", "$(LWS_LEADER_ADDRESS)"]
        leader, worker = vllm(pods["leader"]), vllm(pods["worker"])
        assert leader["command"] == worker["command"] == ["vllm", "serve"]
        assert leader["args"][-6:] == native, leader["args"]
        assert worker["args"] == leader["args"] + ["--headless"], worker["args"]
        assert "ray" not in " ".join(leader["args"] + worker["args"])

    def test_auto_launches_with_ray_one_release_before_the_native_flags(self):
        leader = vllm(templates(group({"image": {"tag": "v" + version_before(NATIVE_FROM)}}))["leader"])
        assert leader["args"][-2:] == ["--distributed-executor-backend", "ray"]

    def test_an_explicit_launcher_wins_over_auto(self):
        leader = vllm(templates(group({"image": {"tag": f"v{version_after(NATIVE_FROM)}"},
                                       "multiNode": {"launcher": "ray"}}))["leader"])
        assert leader["args"][-2:] == ["--distributed-executor-backend", "ray"]

    def test_a_custom_image_may_bring_ray_back_after_the_stock_image_dropped_it(self):
        dropped = VLLM_RULES["stockImageWithoutRay"]["from"]
        rendered = group({"image": {"tag": f"v{dropped}", "repository": WITH_RAY}, "multiNode": {"launcher": "ray"}})
        assert rendered.container()["args"][-2:] == ["--distributed-executor-backend", "ray"]

    def test_the_page_cache_drop_runs_before_each_role(self):
        pods = templates(group({"dropPageCache": {"enabled": True}}))
        for role, pod in pods.items():
            assert vllm(pod)["command"][2].startswith("sync && echo 3 > /proc/sys/vm/drop_caches && "), role


class TestNetworking:
    def test_the_service_selects_the_leader_only(self):
        rendered = group()
        selector = rendered.one("Service")["spec"]["selector"]
        assert selector[harness.LWS_WORKER_INDEX_LABEL] == "0", f"{where(rendered, 'Service')}: selector {selector}"
        pods = templates(rendered)
        assert selector.items() <= pods["leader"].labels.items(), "the Service misses the leader"
        assert not selector.items() <= pods["worker"].labels.items(), "the Service also selects the workers"

    def test_a_single_node_service_keeps_the_plain_selector(self):
        rendered = render_chart(example="single-gpu")
        assert harness.LWS_WORKER_INDEX_LABEL not in rendered.one("Service")["spec"]["selector"]

    def test_helm_test_reaches_the_leaders_service(self):
        rendered = group()
        hook = next(p for p in rendered.objects("Pod") if p["metadata"]["annotations"].get("helm.sh/hook") == "test")
        service = rendered.one("Service")
        url = f"http://{service['metadata']['name']}:{service['spec']['ports'][0]['port']}/v1/models"
        assert url in hook["spec"]["containers"][0]["args"][0], hook["spec"]["containers"][0]["args"]
        assert service["spec"]["selector"].items() <= templates(rendered)["leader"].labels.items()

    def test_the_network_policy_lets_the_group_talk_on_every_port(self):
        rendered = group({"networkPolicy": {"enabled": True, "clientCIDRs": ["10.20.0.0/16"]}})
        policy = rendered.one("NetworkPolicy")["spec"]
        selector = rendered.one("PodDisruptionBudget")["spec"]["selector"]
        assert {"from": [{"podSelector": selector}]} in policy["ingress"], policy["ingress"]
        single = render_chart({"networkPolicy": {"enabled": True, "clientCIDRs": ["10.20.0.0/16"]}}, example="single-gpu").one("NetworkPolicy")["spec"]
        assert all("ports" in rule for rule in single["ingress"]), "a single pod needs no open ingress from itself"

    def test_rdma_adds_the_device_ipc_lock_and_the_adapters(self):
        rendered = group({"multiNode": {"rdma": {"enabled": True, "resourceName": "rdma/hca", "count": 2, "hca": "mlx5"}}})
        for role, pod in templates(rendered).items():
            container = vllm(pod)
            assert container["resources"]["limits"]["rdma/hca"] == container["resources"]["requests"]["rdma/hca"] == 2, role
            assert container["securityContext"]["capabilities"]["add"] == ["IPC_LOCK"], role
            assert {"name": "NCCL_IB_HCA", "value": "mlx5"} in container["env"], role

    def test_host_networking_and_the_socket_interface_are_opt_in(self):
        rendered = group({"multiNode": {"hostNetwork": True, "socketInterface": "ib0"}})
        for role, pod in templates(rendered).items():
            assert (pod.spec["hostNetwork"], pod.spec["dnsPolicy"]) == (True, "ClusterFirstWithHostNet"), role
            env = vllm(pod)["env"]
            assert {"name": "NCCL_SOCKET_IFNAME", "value": "ib0"} in env and {"name": "GLOO_SOCKET_IFNAME", "value": "ib0"} in env
        for role, pod in templates(group()).items():
            assert "hostNetwork" not in pod.spec and "add" not in vllm(pod)["securityContext"]["capabilities"], role


class TestRollout:
    @pytest.mark.parametrize("strategy, expected", [
        ({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}}, {"maxUnavailable": 1, "maxSurge": 0}),
        ({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}}, {"maxUnavailable": 0, "maxSurge": 1}),
        ({"type": "Recreate"}, {"maxUnavailable": "100%", "maxSurge": 0}),
    ], ids=["in-place", "spare-group", "recreate"])
    def test_the_rollout_counts_groups_and_recreate_replaces_every_group_in_place(self, strategy, expected):
        rollout = group({"deployment": {"updateStrategy": strategy}}).one("LeaderWorkerSet")["spec"]["rolloutStrategy"]
        assert rollout == {"type": "RollingUpdate", "rollingUpdateConfiguration": expected}, rollout

    def test_the_disruption_budget_covers_every_pod_of_the_group(self):
        rendered = group()
        selector = rendered.one("PodDisruptionBudget")["spec"]["selector"]
        for role, pod in templates(rendered).items():
            assert fleet.selector_matches(selector, pod.labels), f"the PodDisruptionBudget misses the {role}"


class TestCountingAGroup:
    def test_capacity_counts_every_pod_of_every_group(self):
        values = {"replicaCount": 3}
        held = capacity.footprint(group(values))
        nodes, gpus = example_values()["multiNode"]["nodes"], example_values()["deployment"]["numGPUs"]
        assert (held.replicas, held.group_size, held.pods) == (3, nodes, 3 * nodes), held
        assert held.gpus_per_pod == gpus
        assert held.steady("requests.nvidia.com/gpu") == 3 * nodes * gpus
        assert held.steady("pods") == 3 * nodes

    @pytest.mark.parametrize("rolling, surge_groups, unavailable_groups", [
        ({"maxUnavailable": 1, "maxSurge": 0}, 0, 1),
        ({"maxUnavailable": 0, "maxSurge": 1}, 1, 0),
        ({"maxUnavailable": "50%", "maxSurge": 0}, 0, 1),  # 1.5 groups rounds down
        ({"maxUnavailable": 0, "maxSurge": "50%"}, 2, 0),  # 1.5 groups rounds up
    ], ids=["in-place", "spare-group", "unavailable-pct-rounds-down", "surge-pct-rounds-up"])
    def test_a_group_rollout_adds_and_removes_whole_groups(self, rolling, surge_groups, unavailable_groups):
        held = capacity.footprint(group({"replicaCount": 3, "deployment": {"updateStrategy": {
            "type": "RollingUpdate", "rollingUpdate": rolling}}}))
        nodes = held.group_size
        assert (held.surge_pods, held.unavailable_pods) == (surge_groups * nodes, unavailable_groups * nodes), held
        assert held.surge("requests.nvidia.com/gpu") == (surge_groups * nodes * held.gpus_per_pod
                                                         if unavailable_groups == 0 else 0), held

    def test_lws_defaults_replace_one_group_in_place(self):
        assert capacity.group_rollout({}, 4) == (0, 1)

    def test_the_fleet_sees_the_group_select_its_own_pods(self):
        rendered = group()
        owned = {(kind, name): selector for kind, name, selector in fleet.owned_selectors(rendered)}
        lws_selector = owned[("LeaderWorkerSet", rendered.release.name)]
        labels = fleet.pod_labels(rendered)
        assert len(labels) == 2 and all(fleet.selector_matches(lws_selector, pod) for pod in labels), labels

    def test_the_fleet_reads_priority_and_admission_from_every_template(self):
        rendered = group({"multiNode": {"hostNetwork": True}})
        found = {v for pod in rendered.workload().templates for v in fleet.baseline_violations(pod.spec)}
        assert "hostNetwork: true" in found, found


class TestCheckingTheLeadersVllm:
    def test_the_leaders_arguments_are_checked_against_its_vllm_catalog(self):
        assert verify.vllm_arguments(group()) == []

    def test_kubernetes_expands_the_group_variables_before_vllm_reads_them(self):
        rendered = group({"image": {"tag": f"v{NATIVE_FROM}"}})
        command = verify.serve_command(rendered)
        name = rendered.release.name
        assert command[:2] == ["vllm", "serve"], command
        assert command[-6:] == ["--nnodes", "2", "--node-rank", "0", "--master-addr", f"{name}-0.{name}.llms"], command

    def test_the_ray_leader_is_checked_as_the_vllm_serve_it_execs(self):
        command = verify.serve_command(group())
        assert command[:3] == ["vllm", "serve", example_values()["deployment"]["model"]], command

    def test_an_escaped_or_undefined_reference_stays_as_kubernetes_leaves_it(self):
        assert verify.expand_references(["$$(A)", "$(B)", "x$(A)"], {"A": "1"}) == ["$(A)", "$(B)", "x1"]
