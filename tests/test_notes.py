"""NOTES.txt: after install, how to reach the model (/health, /v1/models) for each Service type, and how to test it.

`helm template` does not render NOTES.txt; `helm install --dry-run=client` (helm v4, no cluster
needed) prints it after the manifests.
"""
from __future__ import annotations

import yaml

from vllm_models import chart_examples, toolchain
from vllm_models import render as harness


def notes(tmp_path, overrides: dict, example: str = "single-gpu") -> str:
    extra = tmp_path / "overrides.yaml"
    extra.write_text(yaml.safe_dump(overrides))
    name = chart_examples.release_name(example)
    command = [toolchain.tool("helm4"), "install", name, str(toolchain.CHART_DIR), "--namespace", "llms",
               "--dry-run=client", "--values", str(chart_examples.path(example)), "--values", str(extra)]
    output = harness.run(command, release=name)
    return output.split("\nNOTES:\n", 1)[1]


def test_a_multi_node_release_names_its_group_and_the_controller_it_needs(tmp_path):
    text = notes(tmp_path, {}, example="multi-node")
    assert text.startswith('llms-v2-llama-3-1-405b-instruct serves "Llama-3.1-405B-Instruct" (vLLM v0.11.0) on '
                           '2 nodes x 8 GPU(s).\n'), text
    assert "Each replica is a LeaderWorkerSet group of 2 pods (ray launcher)" in text
    assert "kubectl get crd leaderworkersets.leaderworkerset.x-k8s.io" in text
    assert "  helm test llms-v2-llama-3-1-405b-instruct -n llms" in text


def test_a_release_that_downloads_its_weights_says_from_where_and_how_to_follow_it(tmp_path):
    text = notes(tmp_path, {}, example="s3-delivery")
    assert ("Each pod first fetches the weights (s3://models/Qwen/Qwen3-32B-FP8 at http://minio.storage.svc:9000, "
            "up to 900s):\n  kubectl -n llms logs -l model=qwen3-32b-s3 -c model-download") in text, text
    assert "LeaderWorkerSet" not in text and "fetches" not in notes(tmp_path, {})


def test_a_nodeport_release_is_reached_on_any_nodes_port(tmp_path):
    text = notes(tmp_path, {})
    assert text.startswith('llms-v2-qwen3-32b serves "Qwen3-32B" (vLLM v0.10.2) on 1 GPU(s).\n')
    assert "The model can take up to 600s to load; watch it become ready:\n  kubectl -n llms get pods -l model=qwen3-32b -w" in text
    assert "  curl http://<node-ip>:30025/health\n  curl http://<node-ip>:30025/v1/models\n" in text
    assert ("  curl http://llms-v2-qwen3-32b.llms.svc:8000/health\n"
            "  curl http://llms-v2-qwen3-32b.llms.svc:8000/v1/models\n") in text
    assert "  helm test llms-v2-qwen3-32b -n llms" in text


def test_a_cluster_ip_release_is_reached_through_a_port_forward(tmp_path):
    text = notes(tmp_path, {"service": {"type": "ClusterIP", "nodePort": None}})
    assert ("  kubectl -n llms port-forward service/llms-v2-qwen3-32b 8000:8000\n"
            "  curl http://localhost:8000/health\n  curl http://localhost:8000/v1/models\n") in text
    assert "<node-ip>" not in text


def test_a_load_balancer_release_is_reached_on_its_address(tmp_path):
    text = notes(tmp_path, {"service": {"type": "LoadBalancer", "port": 80}})
    assert "kubectl -n llms get service llms-v2-qwen3-32b -o jsonpath=" in text
    assert "  curl http://$ADDRESS:80/health\n  curl http://$ADDRESS:80/v1/models\n" in text
