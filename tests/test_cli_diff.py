"""`vllm-models diff`: a semantic diff of rendered manifests, per object and field, not a text diff."""
from __future__ import annotations

import json

import yaml
from cli_repo import copy_repository, described, run, run_json

from vllm_models import semdiff, vllm_versions


def deployment(name: str, args: list[str], env: list[dict], priority: str = "gpu-high") -> dict:
    return {"kind": "Deployment", "metadata": {"name": name, "labels": {"app.kubernetes.io/version": "v0.11.0"}},
            "spec": {"template": {"spec": {"priorityClassName": priority,
                                           "containers": [{"name": "vllm", "args": args, "env": env}]}}}}


def changes(diffs: list[semdiff.ReleaseDiff]) -> list[str]:
    return [str(c) for d in diffs for o in d.objects for c in o.changes]


def test_an_inserted_flag_is_one_added_flag_not_a_shifted_argument_list():
    old = deployment("m", ["/models/m", "--tensor-parallel-size", "4", "--max-num-seqs", "256"], [])
    new = deployment("m", ["/models/m", "--quantization", "fp8", "--tensor-parallel-size", "4",
                           "--max-num-seqs", "128"], [])
    assert changes(semdiff.diff_releases({"r": [old]}, {"r": [new]})) == [
        "~ spec.template.spec.containers[vllm].args[--max-num-seqs]: 256 → 128",
        "+ spec.template.spec.containers[vllm].args[--quantization]: fp8",
    ]


def test_named_list_items_are_matched_by_name_and_dotted_keys_are_bracketed():
    old = deployment("m", ["--x"], [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}])
    new = deployment("m", ["--x"], [{"name": "B", "value": "2"}, {"name": "A", "value": "3"}], "gpu-critical")
    new["metadata"]["labels"]["app.kubernetes.io/version"] = "v0.11.1"
    assert changes(semdiff.diff_releases({"r": [old]}, {"r": [new]})) == [
        '~ metadata.labels["app.kubernetes.io/version"]: v0.11.0 → v0.11.1',
        "~ spec.template.spec.priorityClassName: gpu-high → gpu-critical",
        '~ spec.template.spec.containers[vllm].env[A].value: "1" → "3"',
    ]


def test_json_held_in_a_string_is_compared_as_json():
    old = {"kind": "ConfigMap", "metadata": {"name": "d"}, "data": {"d.json": json.dumps({"a": 1, "b": 2})}}
    new = {"kind": "ConfigMap", "metadata": {"name": "d"}, "data": {"d.json": json.dumps({"b": 2, "a": 5})}}
    assert changes(semdiff.diff_releases({"r": [old]}, {"r": [new]})) == ['~ data["d.json"]{json}.a: 1 → 5']


def test_objects_and_releases_present_on_one_side_are_added_or_removed():
    pdb = {"kind": "PodDisruptionBudget", "metadata": {"name": "m"}}
    policy = {"kind": "NetworkPolicy", "metadata": {"name": "m"}}
    diffs = semdiff.diff_releases({"r": [pdb], "gone": [pdb]}, {"r": [policy], "new": [policy]})
    assert [(d.release, d.status, [(o.kind, o.status) for o in d.objects]) for d in diffs] == [
        ("r", "changed", [("PodDisruptionBudget", "removed"), ("NetworkPolicy", "added")]),
        ("gone", "removed", [("PodDisruptionBudget", "removed")]),
        ("new", "added", [("NetworkPolicy", "added")]),
    ]
    text = semdiff.format_text(diffs, "staging", "production-vn")
    assert "  - PodDisruptionBudget/m (only in staging)" in text
    assert "+ new: only in production-vn (1 objects: NetworkPolicy)" in text


def test_identical_renders_have_no_difference():
    same = deployment("m", ["--x"], [])
    diffs = semdiff.diff_releases({"r": [same]}, {"r": [same]})
    assert [d.status for d in diffs] == ["unchanged"]
    assert semdiff.format_text(diffs, "a", "b") == "= r: no difference"


def test_diff_between_environments_shows_what_their_values_change(tmp_path):
    root = copy_repository(tmp_path)
    staging = yaml.safe_load((root / "environments/staging/values.yaml").read_text())["global"]
    production = yaml.safe_load((root / "environments/production-vn/values.yaml").read_text())["global"]
    code, out = run_json(root, "diff", "staging", "production-vn", "--release", "llms-v2-qwen3-32b")
    assert code == 0, out
    (release,) = out["releases"]
    deployment_changes = {c["path"]: c for o in release["objects"] if o["kind"] == "Deployment" for c in o["changes"]}
    if staging["priorityClassName"] != production["priorityClassName"]:
        assert deployment_changes["spec.template.spec.priorityClassName"] == {
            "path": "spec.template.spec.priorityClassName", "change": "changed",
            "old": staging["priorityClassName"], "new": production["priorityClassName"]}
    # The model files differ only in image.tag (promotion copies them), so the arguments may differ only by the
    # flags the chart renders where one version has them and the other lacks (vllm-versions.yaml).
    tags = [yaml.safe_load((root / f"environments/{env}/language/qwen3-32b.yaml").read_text())["image"]["tag"]
            for env in ("staging", "production-vn")]
    facts = [vllm_versions.facts(tag)["flags"] for tag in tags]
    gated = {flag for flag in vllm_versions.GATED_FLAGS if facts[0][flag] != facts[1][flag]}
    differing = [p for p in deployment_changes if "args" in p]
    assert all(any(p.endswith(f"args[{flag}]") for flag in gated) for p in differing), (
        f"staging ({tags[0]}) and production-vn ({tags[1]}) run qwen3-32b from the same model file, yet its "
        f"arguments differ beyond the version-gated flags {sorted(gated)}: {differing}")
    text = run(root, "diff", "staging", "production-vn", "--release", "llms-v2-qwen3-32b")
    assert text.stdout.startswith("~ llms-v2-qwen3-32b: staging → production-vn\n"), described(text)
    assert run(root, "diff", "staging", "production-vn", "--release", "llms-v2-qwen3-32b",
               "--exit-code").returncode == 1


def test_diff_of_an_unknown_release_is_refused(tmp_path):
    root = copy_repository(tmp_path)
    result = run(root, "diff", "staging", "production-vn", "--release", "llms-v2-nope")
    assert result.returncode == 2, described(result)
    assert "release llms-v2-nope is installed in neither staging nor production-vn" in result.stderr
