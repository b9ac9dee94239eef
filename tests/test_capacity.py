"""Capacity (vllm_models.capacity): a release's quota footprint, its rollout's headroom, and the quota rule.

Every case builds its own small fleet from the chart examples and its own quota, so the numbers come
from the fixture, never from what the environments run today; each comparison is tested at its
boundary (exactly the quota, and one past it) and on each branch of the rollout arithmetic.
"""
from __future__ import annotations

import copy
import dataclasses
from fractions import Fraction

import pytest

from charts import render_chart
from vllm_models import capacity
from vllm_models import render as harness

GPU, MEMORY, PODS = "requests.nvidia.com/gpu", "requests.memory", "pods"


def release(name: str, example: str = "single-gpu", **values) -> harness.Rendered:
    """The chart example rendered with `values` on top, standing in for release llms-v2-<name> of env `test`."""
    rendered = render_chart(values or None, example=example)
    rel = dataclasses.replace(rendered.release, environment="test", name=f"llms-v2-{name}",
                              labels={"category": "language", "model": name})
    return dataclasses.replace(rendered, release=rel)


def rolling(max_surge, max_unavailable) -> dict:
    return {"deployment": {"updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {
        "maxSurge": max_surge, "maxUnavailable": max_unavailable}}}}


def namespace_with(hard: dict) -> harness.Rendered:
    """A namespace release of environment `test` whose ResourceQuota is exactly `hard`."""
    rendered = render_chart(release=harness.namespace_release("staging"))
    documents = copy.deepcopy(rendered.documents)
    next(d for d in documents if d["kind"] == "ResourceQuota")["spec"]["hard"] = hard
    return harness.Rendered(dataclasses.replace(rendered.release, environment="test"), documents, rendered.manifest)


def need(renders, resource: str) -> Fraction:
    return sum((capacity.footprint(r).steady(resource) + capacity.footprint(r).surge(resource) for r in renders),
               Fraction(0))


# --- One release's footprint ---------------------------------------------------------------------

@pytest.mark.parametrize("values, replicas", [
    ({"replicaCount": 3}, 3),
    ({"autoscaling": {"enabled": True, "minReplicas": 1, "maxReplicas": 4}}, 4),
    ({"keda": {"enabled": True, "minReplicas": 1, "maxReplicas": 5}}, 5),
    # Idle at zero, the release may still wake to its maximum: the quota and the nodes hold that.
    ({"keda": {"enabled": True, "minReplicas": 1, "maxReplicas": 5,
               "scaleToZero": {"enabled": True, "activationQuery": "sum(gateway_pending_requests)"}}}, 5),
], ids=["replicaCount", "hpa-max", "keda-max", "keda-scale-to-zero-max"])
def test_a_release_holds_its_most_replicas_in_the_quota(values, replicas):
    held = capacity.footprint(release("m", **values))
    gpus_per_pod = held.per_pod[GPU]
    assert held.replicas == replicas and held.steady(GPU) == replicas * gpus_per_pod, held


@pytest.mark.parametrize("replicas, strategy, surge_pods, unavailable_pods", [
    (4, rolling(1, 0), 1, 0),  # integers
    (4, rolling("50%", 0), 2, 0),  # a percentage of surge rounds up ...
    (3, rolling("50%", 0), 2, 0),  # ... 1.5 -> 2
    (4, rolling(1, "50%"), 1, 2),  # a percentage of unavailable rounds down ...
    (3, rolling(1, "50%"), 1, 1),  # ... 1.5 -> 1
    (1, rolling(1, "25%"), 1, 0),  # 0.25 of one pod is none: the rollout waits for its surge pod
    (2, {"deployment": {"updateStrategy": {"type": "Recreate"}}}, 0, 2),
], ids=["ints", "surge-pct-even", "surge-pct-rounds-up", "unavailable-pct-even", "unavailable-pct-rounds-down",
        "unavailable-pct-of-one-is-zero", "recreate"])
def test_a_rollout_adds_and_removes_pods_as_the_deployment_controller_resolves_them(
        replicas, strategy, surge_pods, unavailable_pods):
    held = capacity.footprint(release("m", replicaCount=replicas, **strategy))
    assert (held.surge_pods, held.unavailable_pods) == (surge_pods, unavailable_pods), held


@pytest.mark.parametrize("strategy, waits", [
    (rolling(1, 0), True),  # cannot remove a pod first: the surge pod must find room
    (rolling(1, 1), False),  # removes one first, then replaces it
    ({"deployment": {"updateStrategy": {"type": "Recreate"}}}, False),
], ids=["maxUnavailable-0", "maxUnavailable-1", "recreate"])
def test_only_a_rollout_that_cannot_remove_a_pod_first_needs_room_for_its_surge(strategy, waits):
    held = capacity.footprint(release("m", example="multi-gpu", replicaCount=2, **strategy))
    assert held.waits_for_surge is waits
    assert held.surge(GPU) == (held.per_pod[GPU] if waits else 0), held


def test_the_api_servers_both_zero_strategy_resolves_to_one_unavailable_pod():
    assert capacity.rollout_pods({"rollingUpdate": {"maxSurge": 0, "maxUnavailable": 0}}, 3) == (0, 1)


def test_unset_surge_and_unavailable_are_kubernetes_25_percent_defaults():
    assert capacity.rollout_pods({}, 8) == (2, 2)


# --- The quota rule ----------------------------------------------------------------------------

def test_a_fleet_exactly_at_its_quota_passes_and_one_gpu_less_is_refused_naming_the_release_that_tips_it():
    small, large = release("small"), release("large", example="multi-gpu")
    gpus = need([small, large], GPU)
    assert capacity.capacity([small, large], namespace_with({GPU: str(gpus)})) == []
    [problem] = capacity.capacity([small, large], namespace_with({GPU: str(gpus - 1)}))
    steady = capacity.footprint(small).steady(GPU) + capacity.footprint(large).steady(GPU)
    surge = gpus - steady
    assert problem.startswith(
        f"environment test: quota {GPU} is {gpus - 1} (environments/test/values.yaml namespace.quota.{GPU}) but the "
        f"enabled releases need {gpus} ({steady} for their replicas + {surge} for the rollouts that wait for a "
        f"surge pod, every release rolling out at once as `helmfile apply` does); added smallest first, release "
        f"llms-v2-large ({large.release.model_file}) tips it over"), problem
    assert "(deployment.updateStrategy: type Recreate, or rollingUpdate.maxUnavailable 1)" in problem


def test_every_rollout_counts_at_once_not_only_the_largest():
    fleet = [release("a"), release("b"), release("c")]
    per_pod = capacity.footprint(fleet[0]).per_pod[GPU]
    assert need(fleet, GPU) == 2 * 3 * per_pod, "three one-replica releases: three pods and three surge pods"
    assert capacity.capacity(fleet, namespace_with({GPU: str(2 * 3 * per_pod - 1)})) != []


def test_a_rollout_that_removes_a_pod_first_needs_no_room_beyond_its_replicas():
    fleet = [release("a", replicaCount=2, **rolling(1, 1)), release("b", replicaCount=2, **rolling(1, 1))]
    steady = sum(capacity.footprint(r).steady(GPU) for r in fleet)
    assert capacity.capacity(fleet, namespace_with({GPU: str(steady)})) == []
    assert capacity.capacity(fleet, namespace_with({GPU: str(steady - 1)})) != []


@pytest.mark.parametrize("resource", [MEMORY, PODS])
def test_memory_and_pods_are_held_to_the_quota_like_gpus(resource):
    fleet = [release("a"), release("b")]
    total = need(fleet, resource)
    quota = capacity.show(resource, total) if resource == MEMORY else str(total)
    short = capacity.show(resource, total - 2**30) if resource == MEMORY else str(total - 1)
    assert capacity.capacity(fleet, namespace_with({resource: quota})) == []
    [problem] = capacity.capacity(fleet, namespace_with({resource: short}))
    assert problem.startswith(f"environment test: quota {resource} is {short} "), problem


def test_a_resource_the_quota_does_not_name_is_not_limited():
    assert capacity.capacity([release("a", example="multi-gpu")], namespace_with({PODS: "10"})) == []


@pytest.mark.parametrize("text, value", [("200Gi", 200 * 2**30), ("4Ti", 4 * 2**40), ("500m", 0.5), ("16", 16),
                                         (24, 24), ("1.5Gi", 1.5 * 2**30), ("2k", 2000)])
def test_kubernetes_quantities_are_read_exactly(text, value):
    assert capacity.quantity(text) == value


def test_a_value_that_is_not_a_quantity_is_refused_by_name():
    with pytest.raises(ValueError, match="'12 GB' is not a Kubernetes quantity"):
        capacity.quantity("12 GB")


def test_a_multi_node_group_counts_every_pod_against_the_quota_at_its_boundary():
    group, small = release("group", example="multi-node"), release("small")
    held = capacity.footprint(group)
    assert held.steady(GPU) == held.replicas * held.group_size * held.per_pod[GPU] and held.group_size > 1, held
    gpus = need([group, small], GPU)
    assert capacity.capacity([group, small], namespace_with({GPU: str(gpus)})) == []
    [problem] = capacity.capacity([group, small], namespace_with({GPU: str(gpus - 1)}))
    assert f"need {gpus} (" in problem and "llms-v2-group" in problem, problem
