"""The Service: NodePorts, unique across each environment."""
from __future__ import annotations

import copy

from conftest import installed_releases, rendered_release
from vllm_models import fleet
from vllm_models import render as harness


def all_renders():
    return [rendered_release(rel.environment, rel.name) for rel in installed_releases()]


def test_every_release_exposes_a_nodeport_service_on_the_named_http_port(rendered):
    service = rendered.one("Service")
    assert service["spec"]["type"] == "NodePort", f"{fleet.where(rendered)}: Service type {service['spec']['type']}"
    assert [p["targetPort"] for p in service["spec"]["ports"]] == ["http"]


def test_nodeports_are_unique_within_each_environment():
    assert fleet.nodeport_conflicts(all_renders()) == []


def test_two_releases_on_one_nodeport_are_reported_with_both_files():
    qwen = rendered_release("staging", "llms-v2-qwen3-32b")
    llama = rendered_release("staging", "llms-v2-llama-3-3-70b-instruct")
    clash = harness.Rendered(llama.release, copy.deepcopy(llama.documents), llama.manifest)
    clash.one("Service")["spec"]["ports"][0]["nodePort"] = fleet.node_ports(qwen)[0]
    assert fleet.nodeport_conflicts([qwen, clash]) == [
        "environment staging: NodePort 30025 (service.nodePort) is used by 2 releases: "
        "llms-v2-qwen3-32b (environments/staging/language/qwen3-32b.yaml), "
        "llms-v2-llama-3-3-70b-instruct (environments/staging/language/llama-3-3-70b-instruct.yaml); "
        "give each a free port in its category's range (`vllm-models ports --env staging`)"]
