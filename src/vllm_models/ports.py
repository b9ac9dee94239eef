"""NodePort allocation: which model file holds which port of the fleet's ranges, and what is free.

A port counts as used when any model file of the environment sets it, enabled or not: a disabled
model keeps its port, or enabling it later would collide. Each environment is its own cluster,
so ports are counted per environment. The rules about ports (no two enabled releases on one port,
every port in its category's range, no undeclared drift between environments) are fleet.py's;
this module reports them next to the allocation table.
"""
from __future__ import annotations

import dataclasses

from . import fleet
from . import render as harness


@dataclasses.dataclass(frozen=True)
class Claim:
    release: str
    category: str
    file: str  # repo-relative model file
    installed: bool
    port: int | None


def claims(env: str) -> list[Claim]:
    return [Claim(rel.name, rel.category, rel.model_file, rel.installed, fleet.configured_port(rel))
            for rel in fleet.model_releases(env, include_disabled=True)]


def category_ranges(category: str) -> list[fleet.PortRange]:
    return [r for r in fleet.port_ranges() if r.category == category]


def ports_of(port_range: fleet.PortRange) -> range:
    return range(port_range.first, port_range.last + 1)


def taken(envs: list[str], *, ignore_release: str = "") -> set[int]:
    """Ports some model file of any of `envs` sets (except `ignore_release`'s own)."""
    return {c.port for env in envs for c in claims(env) if c.port is not None and c.release != ignore_release}


def free(category: str, used: set[int]) -> list[int]:
    """Free ports of the category, in allocation order: ranges as fleet.yaml lists them, low to high."""
    return [port for r in category_ranges(category) for port in ports_of(r) if port not in used]


def next_free(category: str, envs: list[str], *, ignore_release: str = "") -> int | None:
    """Lowest port of the category's ranges free in every one of `envs`."""
    candidates = free(category, taken(envs, ignore_release=ignore_release))
    return candidates[0] if candidates else None


def format_ports(ports: list[int]) -> str:
    """[30006, 30007, 30008, 30011] -> '30006-30008, 30011'."""
    spans: list[list[int]] = []
    for port in sorted(ports):
        if spans and port == spans[-1][1] + 1:
            spans[-1][1] = port
        else:
            spans.append([port, port])
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in spans) or "none"


def conflicts(env: str, renders: list[harness.Rendered], drift: list[str]) -> list[str]:
    """The fleet's port rules for one environment: shared ports, ports out of range, undeclared drift."""
    configured = fleet.model_releases(env, include_disabled=True)
    mine = [p for p in drift if p.startswith(f"environment {env},")]
    return [*fleet.nodeport_conflicts(renders), *fleet.nodeport_ranges(configured, fleet.port_ranges()), *mine]


def report(env: str, renders: list[harness.Rendered], drift: list[str]) -> dict:
    """Per range of a model category: used ports with their owners and the free ports; then the conflicts."""
    found = claims(env)
    used = {c.port for c in found if c.port is not None}
    categories = harness.fleet_data().get("categories") or []
    rows = []
    for r in fleet.port_ranges():
        if r.category not in categories:
            continue
        holders = sorted((c for c in found if c.port is not None and c.port in r), key=lambda c: (c.port, c.release))
        rows.append({
            "range": r.name, "category": r.category, "from": r.first, "to": r.last,
            "used": [{"port": c.port, "release": c.release, "file": c.file, "enabled": c.installed} for c in holders],
            "free": [p for p in ports_of(r) if p not in used],
        })
    return {"environment": env, "ranges": rows, "conflicts": conflicts(env, renders, drift)}


def drift() -> list[str]:
    """fleet.yaml portChanges aside, a release keeps one port in every environment."""
    order = harness.environments()
    configured = {env: fleet.model_releases(env, include_disabled=True) for env in order}
    return fleet.nodeport_drift(configured, order, harness.fleet_data().get("portChanges") or [])
