"""Capacity: what every enabled release holds in its namespace's quota, the fleet rule on it, and `plan`.

A pod's quota footprint (Kubernetes' own counting), replicas (an autoscaler's maximum), the pods of
each replica (one, or a multi-node group's), rollout surge, and the rule that every enabled release
plus its rollout surge fits the quota.
"""
from __future__ import annotations

import dataclasses
import math
import re
from fractions import Fraction
from typing import Mapping, Sequence

from . import render as harness
from .render import environment_file

# Kubernetes counts GPUs by requests only; cpu and memory by requests and limits.
QUOTA_RESOURCES = {"requests.nvidia.com/gpu": ("requests", "nvidia.com/gpu"),
                   "requests.cpu": ("requests", "cpu"), "limits.cpu": ("limits", "cpu"),
                   "requests.memory": ("requests", "memory"), "limits.memory": ("limits", "memory")}


SUFFIXES = {"": 1, "m": Fraction(1, 1000), "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15,
            "E": 10**18, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}


def quantity(value) -> Fraction:
    """A Kubernetes quantity (`200Gi`, `500m`, `16`, 4) as an exact number."""
    match = re.fullmatch(r"([0-9]+(?:\.[0-9]+)?)([a-zA-Z]*)", str(value).strip())
    if not match or match.group(2) not in SUFFIXES:
        raise ValueError(f"{value!r} is not a Kubernetes quantity")
    return Fraction(match.group(1)) * SUFFIXES[match.group(2)]


def show(resource: str, amount: Fraction) -> str:
    if resource.endswith("memory"):
        gib = amount / 2**30
        return f"{gib.numerator // gib.denominator}Gi" if gib.denominator == 1 else f"{float(gib):.1f}Gi"
    return f"{float(amount):g}"


@dataclasses.dataclass(frozen=True)
class Footprint:
    """What one release holds in its namespace's quota: every replica, and what its rollout needs on top.

    A replica is one pod (a Deployment) or a group of `group_size` pods (a LeaderWorkerSet: one model
    over several nodes, every pod of the group the same pod spec, `per_pod`). Placement reads
    `group_size`, `gpus_per_pod` and `per_pod`: a group needs `group_size` nodes that each fit one pod.

    A RollingUpdate that may not remove a pod first (maxUnavailable 0) waits for its surge pods, so the
    quota (and the nodes) must keep room for them or the rollout never finishes; one that may remove
    pods first proceeds without that room, and Recreate removes every pod first. A group's rollout adds
    and removes whole groups.
    """
    release: harness.Release
    replicas: int
    surge_pods: int  # the most pods a rollout adds (maxSurge; whole groups of group_size pods)
    unavailable_pods: int  # the most pods a rollout removes before replacing them (maxUnavailable)
    per_pod: dict[str, Fraction]
    group_size: int = 1  # pods per replica: 1, or the nodes of a multi-node group

    @property
    def waits_for_surge(self) -> bool:
        return self.surge_pods > 0 and self.unavailable_pods == 0

    @property
    def pods(self) -> int:
        """Pods of every replica."""
        return self.replicas * self.group_size

    @property
    def gpus_per_pod(self) -> Fraction:
        return self.per_pod.get("requests.nvidia.com/gpu", Fraction(0))

    def steady(self, resource: str) -> Fraction:
        return self.pods * (1 if resource == "pods" else self.per_pod.get(resource, 0))

    def surge(self, resource: str) -> Fraction:
        """What the rollout needs free to finish: its surge pods, when it cannot remove one first."""
        if not self.waits_for_surge:
            return Fraction(0)
        return self.surge_pods * (1 if resource == "pods" else self.per_pod.get(resource, 0))


def pod_resources(pod_spec: Mapping) -> dict[str, Fraction]:
    """A pod's effective requests/limits as the quota counts them: max(sum of containers, largest init container)."""
    def amount(container: Mapping, side: str, resource: str) -> Fraction:
        return quantity(((container.get("resources") or {}).get(side) or {}).get(resource, 0))

    totals: dict[str, Fraction] = {}
    for quota_key, (side, resource) in QUOTA_RESOURCES.items():
        running = sum((amount(c, side, resource) for c in pod_spec.get("containers") or []), Fraction(0))
        init = max((amount(c, side, resource) for c in pod_spec.get("initContainers") or []), default=Fraction(0))
        totals[quota_key] = max(running, init)
    return totals


def footprint(rendered: harness.Rendered) -> Footprint:
    workload = rendered.workload()
    spec = workload.spec
    replicas = int(spec.get("replicas", 1))
    # An autoscaler may take the workload to its maximum: the quota must hold that many.
    for kind, field in (("HorizontalPodAutoscaler", "maxReplicas"), ("ScaledObject", "maxReplicaCount")):
        for scaler in rendered.objects(kind):
            target = scaler["spec"]["scaleTargetRef"]
            if target.get("name") == workload.name and target.get("kind", workload.kind) == workload.kind:
                replicas = int(scaler["spec"][field])
    if workload.kind == "LeaderWorkerSet":
        surge, unavailable = group_rollout(spec.get("rolloutStrategy") or {}, replicas)
    else:
        surge, unavailable = rollout_pods(spec.get("strategy") or {}, replicas)
    size = workload.size
    return Footprint(rendered.release, replicas, surge * size, unavailable * size,
                     pod_resources(workload.template["spec"]), size)


def rollout_pods(strategy: Mapping, replicas: int) -> tuple[int, int]:
    """(pods a rollout may add, pods it may remove first), as the Deployment controller resolves
    maxSurge (percent rounded up) and maxUnavailable (percent rounded down); both 25% when unset."""
    if strategy.get("type", "RollingUpdate") == "Recreate":
        return 0, replicas
    rolling = strategy.get("rollingUpdate") or {}

    def resolve(value, round_up: bool) -> int:
        if isinstance(value, str) and value.endswith("%"):
            share = replicas * int(value[:-1]) / 100
            return math.ceil(share) if round_up else math.floor(share)
        return int(value)
    surge = resolve(rolling.get("maxSurge", "25%"), True)
    unavailable = resolve(rolling.get("maxUnavailable", "25%"), False)
    if surge == 0 and unavailable == 0:  # the API server refuses both zero; it would never progress
        unavailable = 1
    return surge, unavailable


def group_rollout(strategy: Mapping, replicas: int) -> tuple[int, int]:
    """(groups a LeaderWorkerSet rollout may add, groups it may remove first): maxSurge (percent rounded up)
    and maxUnavailable (percent rounded down) of rollingUpdateConfiguration, counted in groups; unset they
    are LWS's defaults, 0 and 1 (lws pkg/webhooks/leaderworkerset_webhook.go, v0.10.0)."""
    rolling = strategy.get("rollingUpdateConfiguration") or {}
    return rollout_pods({"type": "RollingUpdate", "rollingUpdate": {
        "maxSurge": rolling.get("maxSurge", 0), "maxUnavailable": rolling.get("maxUnavailable", 1)}}, replicas)


def quota_of(namespace: harness.Rendered) -> dict[str, Fraction]:
    quota = namespace.one("ResourceQuota")
    return {key: quantity(value) for key, value in (quota["spec"].get("hard") or {}).items()}


def capacity(renders: Sequence[harness.Rendered], namespace: harness.Rendered) -> list[str]:
    """Every installed release (replicas x pod) plus every rollout's surge fits the quota.

    Every rollout at once: `helmfile apply` upgrades every changed release together, and a change to
    the environment (an image bump) changes them all. Releases are added smallest first (in each
    resource), so the release named as tipping the quota over is the one too large for what the
    others leave: disabling or shrinking it, letting its rollout remove a pod first, or raising the
    quota, is the fix.
    """
    env = namespace.release.environment
    quota = quota_of(namespace)
    prints = [footprint(r) for r in renders]
    problems = []
    for resource in [*QUOTA_RESOURCES, "pods"]:
        if resource not in quota:
            continue
        steady, surge = Fraction(0), Fraction(0)
        for item in sorted(prints, key=lambda p: p.steady(resource) + p.surge(resource)):
            steady += item.steady(resource)
            surge += item.surge(resource)
            if steady + surge > quota[resource]:
                rel = item.release
                rollout = f" + {show(resource, surge)} for the rollouts that wait for a surge pod" if surge else ""
                problems.append(
                    f"environment {env}: quota {resource} is {show(resource, quota[resource])} "
                    f"({environment_file(env)} namespace.quota.{resource}) but the enabled releases need "
                    f"{show(resource, steady + surge)} ({show(resource, steady)} for their replicas{rollout}, "
                    f"every release rolling out at once as `helmfile apply` does); added smallest first, release "
                    f"{rel.name} ({rel.model_file}) tips it over: disable it "
                    f"({rel.category}.models.{rel.labels.get('model', '')}.enabled: false), shrink it "
                    f"(replicaCount, resources), let its rollout remove a pod first "
                    f"(deployment.updateStrategy: type Recreate, or rollingUpdate.maxUnavailable 1), or raise the quota")
                break
    return problems


# --- plan ----------------------------------------------------------------------------------------

RESOURCES = (*QUOTA_RESOURCES, "pods")


@dataclasses.dataclass
class Plan:
    environment: str
    footprints: list[Footprint]
    quota: dict[str, Fraction] | None  # None: no quota known
    quota_note: str  # where the quota comes from, or why none is known
    problems: list[str]

    @property
    def steady(self) -> dict[str, Fraction]:
        return {r: sum((f.steady(r) for f in self.footprints), Fraction(0)) for r in RESOURCES}

    @property
    def surge(self) -> dict[str, Fraction]:
        """Per resource, what every rollout at once needs on top of the replicas (the fleet rule's headroom)."""
        return {r: sum((f.surge(r) for f in self.footprints), Fraction(0)) for r in RESOURCES}

    @property
    def peak(self) -> dict[str, Fraction]:
        return {r: self.steady[r] + self.surge[r] for r in RESOURCES}

    @property
    def remaining(self) -> dict[str, Fraction]:
        if self.quota is None:
            return {}
        return {r: self.quota[r] - self.peak[r] for r in RESOURCES if r in self.quota}

    def as_dict(self) -> dict:
        def shown(amounts: dict[str, Fraction]) -> dict[str, str]:
            return {r: show(r, a) for r, a in amounts.items()}
        return {
            "environment": self.environment,
            "releases": [{"release": f.release.name, "file": f.release.model_file, "replicas": f.replicas,
                          "podsPerReplica": f.group_size, "surgePods": f.surge_pods, "unavailablePods": f.unavailable_pods,
                          "waitsForSurge": f.waits_for_surge, "perPod": shown(f.per_pod),
                          "steady": shown({r: f.steady(r) for r in RESOURCES}),
                          "surge": shown({r: f.surge(r) for r in RESOURCES})} for f in self.footprints],
            "steady": shown(self.steady), "surge": shown(self.surge), "peak": shown(self.peak),
            "quota": shown(self.quota) if self.quota is not None else None, "quotaSource": self.quota_note,
            "remaining": shown(self.remaining), "problems": self.problems,
        }


def namespace_quota(env: str) -> tuple[harness.Rendered | None, str]:
    """The rendered namespace release of env, or None and the reason no quota is known."""
    try:
        rel = harness.namespace_release(env)
    except LookupError as error:
        return None, f"no quota known: {error}"
    rendered = harness.render(rel)
    if not rendered.objects("ResourceQuota"):
        return None, f"no quota known: release {rel.name} renders no ResourceQuota"
    return rendered, f"ResourceQuota {rendered.one('ResourceQuota')['metadata']['name']} from the `namespace:` " \
                     f"block of {environment_file(env)} (release {rel.name})"


def plan(env: str, renders: list[harness.Rendered]) -> Plan:
    """Capacity of env's enabled model releases (`renders`) against its quota."""
    namespace, note = namespace_quota(env)
    footprints = [footprint(r) for r in renders]
    if namespace is None:
        return Plan(env, footprints, None, note, [])
    return Plan(env, footprints, quota_of(namespace), note, capacity(renders, namespace))


def shortfall(before: Plan, after: Plan, release: str) -> str:
    """One sentence: what `release` adds against what the quota leaves without it, for the first
    resource it overflows (GPUs first)."""
    mine = next(f for f in after.footprints if f.release.name == release)
    over = [r for r in RESOURCES if after.quota and r in after.quota and after.peak[r] > after.quota[r]]
    if not over:
        return f"{release} does not fit the quota of {after.environment}"
    resource = over[0]
    unit = {"requests.nvidia.com/gpu": " GPU(s)", "pods": " pod(s)"}.get(resource, f" ({resource})")

    def with_unit(amount: Fraction) -> str:
        return show(resource, amount) + unit
    need = after.peak[resource] - before.peak[resource]
    left = max(after.quota[resource] - before.peak[resource], Fraction(0))
    per_pod = show(resource, Fraction(1)) if resource == "pods" else show(resource, mine.per_pod[resource])
    own = f" + {with_unit(mine.surge(resource))} for its rollout" if mine.surge(resource) else ""
    group = f" of {mine.group_size} pods" if mine.group_size > 1 else ""
    return (f"{release} adds {with_unit(need)} at peak ({per_pod} per pod x {mine.replicas} replica(s){group}{own}) "
            f"but the quota of {after.environment} leaves {with_unit(left)}: "
            f"{show(resource, after.quota[resource])} in {after.quota_note}, minus "
            f"{show(resource, before.steady[resource])} requested by {len(before.footprints)} enabled release(s) "
            f"and {show(resource, before.surge[resource])} kept for their rollouts")
