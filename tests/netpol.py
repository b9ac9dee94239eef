"""A small NetworkPolicy evaluator (networking.k8s.io/v1 ingress semantics) for tests that ask who gets in.

`admitted(policies, pod, source, port)`: whether traffic from `source` to `port` of `pod` passes the
policies that select the pod. Kubernetes' rules, as the API documents them: a pod no policy with
policyType Ingress selects admits everything; otherwise some ingress rule of some selecting policy must
admit it: its `from` is empty or has a matching peer, and its `ports` are empty or name the port
(by number, or by a container port name). An ipBlock peer matches an address in `cidr` and in no
`except`; a namespaceSelector/podSelector peer matches a pod source only (both must match when both
are given). Traffic between a pod and its own node, which Kubernetes always admits, is not modelled.
"""
from __future__ import annotations

import dataclasses
import ipaddress
from typing import Iterable, Mapping

from vllm_models.fleet import selector_matches


@dataclasses.dataclass(frozen=True)
class Source:
    """Where traffic comes from: an address, and for a pod, its namespace's labels and its own."""
    ip: str
    namespace_labels: Mapping[str, str] | None = None  # None: not a pod (outside the cluster, a node)
    pod_labels: Mapping[str, str] = dataclasses.field(default_factory=dict)


def outside(ip: str) -> Source:
    return Source(ip)


def pod_in(namespace: str, ip: str = "10.244.0.9", **labels: str) -> Source:
    return Source(ip, {"kubernetes.io/metadata.name": namespace}, labels)


def _in_block(ip: str, block: Mapping) -> bool:
    address = ipaddress.ip_address(ip)
    inside = lambda cidr: address.version == ipaddress.ip_network(cidr, strict=False).version and \
        address in ipaddress.ip_network(cidr, strict=False)
    return inside(block["cidr"]) and not any(inside(cidr) for cidr in block.get("except") or [])


def _peer_matches(peer: Mapping, source: Source, policy_namespace: str) -> bool:
    if "ipBlock" in peer:
        return _in_block(source.ip, peer["ipBlock"])
    if source.namespace_labels is None:
        return False
    namespaces, pods = peer.get("namespaceSelector"), peer.get("podSelector")
    if namespaces is None:  # a podSelector alone selects pods of the policy's own namespace
        if source.namespace_labels.get("kubernetes.io/metadata.name") != policy_namespace:
            return False
    elif not selector_matches(namespaces, source.namespace_labels):
        return False
    return pods is None or selector_matches(pods, source.pod_labels)


def _port_matches(rule_ports: Iterable[Mapping], pod: Mapping, port: int) -> bool:
    rule_ports = list(rule_ports or [])
    if not rule_ports:
        return True
    named = {p["name"]: p["containerPort"] for c in pod["spec"]["containers"] for p in c.get("ports") or [] if "name" in p}
    for entry in rule_ports:
        wanted = entry.get("port")
        number = named.get(wanted) if isinstance(wanted, str) else wanted
        if wanted is None or number == port or (entry.get("endPort") and number <= port <= entry["endPort"]):
            return True
    return False


def admitted(policies: Iterable[Mapping], pod: Mapping, source: Source, port: int) -> bool:
    """Whether `source` reaches `port` of `pod` (a pod template: metadata.labels, spec.containers)."""
    labels = pod["metadata"].get("labels") or {}
    selecting = [p for p in policies if "Ingress" in p["spec"].get("policyTypes", ["Ingress"])
                 and selector_matches(p["spec"].get("podSelector") or {}, labels)]
    if not selecting:
        return True
    for policy in selecting:
        for rule in policy["spec"].get("ingress") or []:
            peers = rule.get("from") or []
            namespace = policy["metadata"].get("namespace", "")
            if (not peers or any(_peer_matches(peer, source, namespace) for peer in peers)) and \
                    _port_matches(rule.get("ports"), pod, port):
                return True
    return False
