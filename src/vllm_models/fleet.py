"""Fleet-wide rules: what no single release can see (ports across releases, capacity, coverage).

Each check takes renders or releases and returns readable problems; the tests assert none,
and the CLI prints them.
"""
from __future__ import annotations

import collections
from typing import Iterable

from . import render as harness


def where(rendered: harness.Rendered) -> str:
    rel = rendered.release
    return f"environment {rel.environment}, release {rel.name} ({rel.model_file or 'no model file'})"


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
