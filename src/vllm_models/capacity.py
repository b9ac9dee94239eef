"""The `plan` view of capacity: per enabled release and in total, against the namespace's quota.

The arithmetic (a pod's quota footprint, replicas, rollout surge, the quota's hard limits and the
rule "every enabled release plus the largest single rollout surge fits") lives in fleet.py, which
the fleet tests enforce; this module only lays it out as a table and JSON.
"""
from __future__ import annotations

import dataclasses
from fractions import Fraction

from . import fleet
from . import render as harness

RESOURCES = (*fleet.QUOTA_RESOURCES, "pods")


@dataclasses.dataclass
class Plan:
    environment: str
    footprints: list[fleet.Footprint]
    quota: dict[str, Fraction] | None  # None: no quota known
    quota_note: str  # where the quota comes from, or why none is known
    problems: list[str]

    @property
    def steady(self) -> dict[str, Fraction]:
        return {r: sum((f.steady(r) for f in self.footprints), Fraction(0)) for r in RESOURCES}

    @property
    def surge(self) -> dict[str, Fraction]:
        """Per resource, the most one rollout adds (the fleet rule's headroom)."""
        return {r: max((f.surge(r) for f in self.footprints), default=Fraction(0)) for r in RESOURCES}

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
            return {r: fleet.show(r, a) for r, a in amounts.items()}
        return {
            "environment": self.environment,
            "releases": [{"release": f.release.name, "file": f.release.model_file, "replicas": f.replicas,
                          "surgePods": f.surge_pods, "perPod": shown(f.per_pod),
                          "steady": shown({r: f.steady(r) for r in RESOURCES}),
                          "surge": shown({r: f.surge(r) for r in RESOURCES})} for f in self.footprints],
            "steady": shown(self.steady), "surge": shown(self.surge), "peak": shown(self.peak),
            "quota": shown(self.quota) if self.quota is not None else None, "quotaSource": self.quota_note,
            "remaining": shown(self.remaining), "problems": self.problems,
        }


def quota_of(env: str) -> tuple[harness.Rendered | None, str]:
    """The rendered namespace release of env, or None and the reason no quota is known."""
    try:
        rel = fleet.namespace_release(env)
    except LookupError as error:
        return None, f"no quota known: {error}"
    rendered = harness.render(rel)
    if not rendered.objects("ResourceQuota"):
        return None, f"no quota known: release {rel.name} renders no ResourceQuota"
    return rendered, f"ResourceQuota {rendered.one('ResourceQuota')['metadata']['name']} from the `namespace:` " \
                     f"block of {fleet.environment_file(env)} (release {rel.name})"


def plan(env: str, renders: list[harness.Rendered]) -> Plan:
    """Capacity of env's enabled model releases (`renders`) against its quota."""
    namespace, note = quota_of(env)
    footprints = [fleet.footprint(r) for r in renders]
    if namespace is None:
        return Plan(env, footprints, None, note, [])
    return Plan(env, footprints, fleet.quota_of(namespace), note, fleet.capacity(renders, namespace))


def shortfall(before: Plan, after: Plan, release: str) -> str:
    """One sentence: what `release` adds against what the quota leaves without it, for the first
    resource it overflows (GPUs first)."""
    mine = next(f for f in after.footprints if f.release.name == release)
    over = [r for r in RESOURCES if after.quota and r in after.quota and after.peak[r] > after.quota[r]]
    if not over:
        return f"{release} does not fit the quota of {after.environment}"
    resource = over[0]
    unit = {"requests.nvidia.com/gpu": " GPU(s)", "pods": " pod(s)"}.get(resource, f" ({resource})")

    def show(amount: Fraction) -> str:
        return fleet.show(resource, amount) + unit
    need = after.peak[resource] - before.peak[resource]
    left = max(after.quota[resource] - before.peak[resource], Fraction(0))
    grows = ", and its rollout surge becomes the largest" if after.surge[resource] > before.surge[resource] else ""
    per_pod = fleet.show(resource, Fraction(1)) if resource == "pods" else fleet.show(resource, mine.per_pod[resource])
    return (f"{release} adds {show(need)} at peak ({per_pod} per pod x {mine.replicas} replica(s){grows}) "
            f"but the quota of {after.environment} leaves {show(left)}: "
            f"{fleet.show(resource, after.quota[resource])} in {after.quota_note}, minus "
            f"{fleet.show(resource, before.steady[resource])} requested by {len(before.footprints)} enabled release(s) "
            f"and {fleet.show(resource, before.surge[resource])} kept for the largest rollout")
