"""NodePorts: the fleet's port rules, and which model file holds which port of the ranges.

A port counts as used when any model file of the environment sets it, enabled or not: a disabled
model keeps its port, or enabling it later would collide. Each environment is its own cluster,
so ports are counted per environment; but a release keeps its port across environments (the drift
rule), so a port another environment gives to another release is reserved for it everywhere.
"""
from __future__ import annotations

import collections
import dataclasses
from typing import Iterable, Mapping, Sequence

from . import render as harness
from .render import at


# --- Rules ---------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class PortRange:
    name: str
    category: str
    first: int
    last: int

    def __contains__(self, port: int) -> bool:
        return self.first <= port <= self.last

    def __str__(self) -> str:
        return f"{self.name} range {self.first}-{self.last}"


def port_ranges(fleet: Mapping | None = None) -> list[PortRange]:
    """The seed's NodePort allocation table, kept once in environments/fleet.yaml portRanges."""
    fleet = harness.fleet_data() if fleet is None else fleet
    return [PortRange(r["name"], r["category"], int(r["from"]), int(r["to"])) for r in fleet.get("portRanges", [])]


def node_ports(rendered: harness.Rendered) -> list[int]:
    return [port["nodePort"] for svc in rendered.objects("Service")
            for port in svc["spec"].get("ports", []) if "nodePort" in port]


def nodeport_conflicts(renders: Iterable[harness.Rendered]) -> list[str]:
    """NodePorts are cluster-wide: two Services of one environment on one port cannot both exist."""
    owners: dict[tuple[str, int], list[harness.Rendered]] = collections.defaultdict(list)
    for rendered in renders:
        for port in node_ports(rendered):
            owners[(rendered.release.environment, port)].append(rendered)
    problems = []
    for (env, port), holders in sorted(owners.items()):
        if len(holders) > 1:
            files = ", ".join(f"{r.release.name} ({r.release.model_file})" for r in holders)
            problems.append(
                f"environment {env}: NodePort {port} (service.nodePort) is used by {len(holders)} releases: "
                f"{files}; give each a free port in its category's range (`vllm-models ports --env {env}`)")
    return problems


def configured_port(rel: harness.Release) -> int | None:
    port = harness.lookup(rel.values(), "service.nodePort")
    return int(port) if isinstance(port, int) or (isinstance(port, str) and port.isdigit()) else None


def nodeport_ranges(releases: Iterable[harness.Release], ranges: Sequence[PortRange]) -> list[str]:
    """Every configured release's service.nodePort lies in a range of its own category."""
    problems = []
    for rel in releases:
        port = configured_port(rel)
        if port is None:
            continue
        own = [r for r in ranges if r.category == rel.category]
        if any(port in r for r in own):
            continue
        prefix = f"{at(rel)}: service.nodePort {port}"
        if not own:
            problems.append(f"{prefix} has no range to be checked against: environments/fleet.yaml portRanges "
                            f"declares none for category {rel.category or '(none)'}; add one")
            continue
        choices = " or ".join(f"the {r}" for r in own)
        holder = next((r for r in ranges if port in r), None)
        if holder:
            problems.append(f"{prefix} is outside the {' and the '.join(map(str, own))}: it lies in the {holder}, "
                            f"which belongs to {holder.category}; pick a free port in {choices}")
        else:
            problems.append(f"{prefix} is outside every model range (environments/fleet.yaml portRanges); "
                            f"a {rel.category} model takes a free port in {choices}")
    return problems


def nodeport_drift(configured: Mapping[str, Sequence[harness.Release]], order: Sequence[str],
                   changes: Sequence[Mapping]) -> list[str]:
    """A release keeps its port across environments unless fleet.yaml portChanges declares the change.

    The reference is the port in the first environment (promotion order) that configures the release.
    Declared changes must carry a reason and must still describe a real difference.
    """
    declared: dict[tuple[str, str], int] = {}
    problems = []
    for index, change in enumerate(changes):
        missing = [k for k in ("release", "environment", "nodePort", "reason") if not change.get(k)]
        if missing:
            problems.append(f"environments/fleet.yaml portChanges[{index}] lacks {', '.join(missing)}: a "
                            f"deliberate port change names the release, the environment, the nodePort it uses "
                            f"there and the reason")
            continue
        declared[(change["release"], change["environment"])] = int(change["nodePort"])
    first: dict[str, harness.Release] = {}
    used: set[tuple[str, str]] = set()
    for env in order:
        for rel in configured.get(env, ()):
            port = configured_port(rel)
            if port is None:
                continue
            reference = first.setdefault(rel.name, rel)
            if reference is rel:
                continue
            expected = configured_port(reference)
            if declared.get((rel.name, env)) == port != expected:
                used.add((rel.name, env))
                continue
            if port != expected:
                declare = (f"declare the change in environments/fleet.yaml portChanges (release: {rel.name}, "
                           f"environment: {env}, nodePort: {port}, reason: ...)")
                prefix = (f"{at(rel)}: service.nodePort {port} differs from {expected} in environment "
                          f"{reference.environment} ({reference.model_file})")
                clash = port_holder(configured, env, expected, rel.name) or \
                    port_holder(configured, reference.environment, expected, rel.name)
                if clash is None:
                    problems.append(f"{prefix}; clients and firewalls follow the port, so keep {expected}, or {declare}")
                    continue
                # Keeping the reference's port would collide: the fix is the reference's port, if this one is free there.
                taken = f"{expected} is also {clash.name}'s in environment {clash.environment} ({clash.model_file})"
                if port_holder(configured, reference.environment, port, rel.name) is None:
                    problems.append(f"{prefix}, but {taken}, so keeping it would collide; set service.nodePort {port} "
                                    f"in {reference.model_file} too ({port} is free in environment "
                                    f"{reference.environment}), or {declare}")
                else:
                    problems.append(f"{prefix}, but {taken}, so keeping it would collide; give the release a port free "
                                    f"in both (`vllm-models ports --env {reference.environment}`, `vllm-models ports "
                                    f"--env {env}`), or {declare}")
    for (name, env), port in declared.items():
        if (name, env) not in used:
            problems.append(f"environments/fleet.yaml portChanges entry for release {name} in environment {env} "
                            f"(nodePort {port}) matches no port difference: that release does not use "
                            f"{port} there or never differed; remove the entry")
    return problems


def port_holder(configured: Mapping[str, Sequence[harness.Release]], env: str, port: int,
                release: str) -> harness.Release | None:
    """Another release that sets `port` in env (enabled or not), if one does."""
    return next((r for r in configured.get(env, ()) if r.name != release and configured_port(r) == port), None)


# --- Allocation ----------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Claim:
    release: str
    category: str
    file: str  # repo-relative model file
    installed: bool
    port: int | None


def claims(env: str) -> list[Claim]:
    return [Claim(rel.name, rel.category, rel.model_file, rel.installed, configured_port(rel))
            for rel in harness.model_releases(env, include_disabled=True)]


def category_ranges(category: str) -> list[PortRange]:
    return [r for r in port_ranges() if r.category == category]


def ports_of(port_range: PortRange) -> range:
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
    configured = harness.model_releases(env, include_disabled=True)
    mine = [p for p in drift if p.startswith(f"environment {env},")]
    return [*nodeport_conflicts(renders), *nodeport_ranges(configured, port_ranges()), *mine]


def reserved(env: str) -> dict[int, tuple[Claim, str]]:
    """Ports this environment leaves unused that another environment gives to a release this one lacks:
    promoting that release here keeps its port (the drift rule), so the port is not free here."""
    here = claims(env)
    mine = {c.release for c in here}
    used = {c.port for c in here if c.port is not None}
    found: dict[int, tuple[Claim, str]] = {}
    for other in harness.environments():
        if other == env:
            continue
        for claim in claims(other):
            if claim.port is not None and claim.port not in used and claim.release not in mine:
                found.setdefault(claim.port, (claim, other))
    return found


def report(env: str, renders: list[harness.Rendered], drift: list[str]) -> dict:
    """Per range of a model category: used ports with their owners, ports reserved by releases of other
    environments, and the free ports; then the conflicts."""
    found = claims(env)
    used = {c.port for c in found if c.port is not None}
    held_elsewhere = reserved(env)
    categories = harness.fleet_data().get("categories") or []
    rows = []
    for r in port_ranges():
        if r.category not in categories:
            continue
        holders = sorted((c for c in found if c.port is not None and c.port in r), key=lambda c: (c.port, c.release))
        rows.append({
            "range": r.name, "category": r.category, "from": r.first, "to": r.last,
            "used": [{"port": c.port, "release": c.release, "file": c.file, "enabled": c.installed} for c in holders],
            "reserved": [{"port": port, "release": claim.release, "environment": other, "file": claim.file}
                         for port, (claim, other) in sorted(held_elsewhere.items()) if port in r],
            "free": [p for p in ports_of(r) if p not in used and p not in held_elsewhere],
        })
    return {"environment": env, "ranges": rows, "conflicts": conflicts(env, renders, drift)}


def drift() -> list[str]:
    """fleet.yaml portChanges aside, a release keeps one port in every environment."""
    order = harness.environments()
    configured = {env: harness.model_releases(env, include_disabled=True) for env in order}
    return nodeport_drift(configured, order, harness.fleet_data().get("portChanges") or [])
