"""`vllm-models ports`: used and free NodePorts per range, and the conflicts the fleet rules find."""
from __future__ import annotations

from cli_repo import copy_repository, described, plant_copy_of, run, run_json

from vllm_models import ports
from vllm_models import render as harness


def test_ports_lists_each_range_with_its_used_reserved_and_free_ports_and_no_conflict(tmp_path):
    root = copy_repository(tmp_path)
    code, out = run_json(root, "ports", "--env", "staging")
    assert code == 0, out
    (report,) = out["environments"]
    assert report["conflicts"] == [], report["conflicts"]
    expected = {ports.configured_port(rel): rel.name for rel in harness.model_releases("staging", include_disabled=True)}
    listed = {u["port"]: u["release"] for row in report["ranges"] for u in row["used"]}
    assert listed == expected, f"staging: ports listed as used {listed}, model files set {expected}"
    for row in report["ranges"]:
        parts = [u["port"] for u in row["used"]] + [u["port"] for u in row["reserved"]] + row["free"]
        assert sorted(parts) == list(range(row["from"], row["to"] + 1)), f"staging range {row['range']}: {row}"
    table = run(root, "ports", "--env", "staging")
    assert "conflicts: none" in table.stdout, described(table)


def test_a_port_another_environment_gives_to_a_release_missing_here_is_reserved_not_free(tmp_path):
    root = copy_repository(tmp_path)
    _, before = run_json(root, "ports", "--env", "staging")
    port = next(p for row in before["environments"][0]["ranges"] if row["category"] == "language" for p in row["free"])
    planted = plant_copy_of(root, "production-jp", "qwen3-32b", "qwen3-32b-jp-only", port)
    code, out = run_json(root, "ports", "--env", "staging")
    assert code == 0, out
    row = next(r for r in out["environments"][0]["ranges"] if r["from"] <= port <= r["to"])
    assert port not in row["free"], f"staging lists {port} as free though {planted} holds it: {row}"
    assert {"port": port, "release": "llms-v2-qwen3-32b-jp-only", "environment": "production-jp",
            "file": planted} in row["reserved"], row
    table = run(root, "ports", "--env", "staging")
    assert f"reserved: used in production-jp  {planted}" in table.stdout, described(table)


def test_ports_finds_a_planted_conflict_and_names_both_files(tmp_path):
    root = copy_repository(tmp_path)
    planted = plant_copy_of(root, "staging", "llama-3-3-70b-instruct", "llama-copy", 30025)
    result = run(root, "ports", "--env", "staging")
    assert result.returncode == 1, described(result)
    assert ("environment staging: NodePort 30025 (service.nodePort) is used by 2 releases: "
            f"llms-v2-llama-copy ({planted}), "
            "llms-v2-qwen3-32b (environments/staging/language/qwen3-32b.yaml)") in result.stdout, described(result)
    code, out = run_json(root, "ports", "--env", "staging")
    assert code == 1 and any("NodePort 30025" in c for c in out["environments"][0]["conflicts"]), out


def test_ports_reports_a_port_outside_its_categorys_ranges(tmp_path):
    root = copy_repository(tmp_path)
    planted = plant_copy_of(root, "staging", "qwen3-32b", "qwen3-32b-elsewhere", 30019)
    code, out = run_json(root, "ports", "--env", "staging")
    assert code == 1
    assert any(c.startswith(f"environment staging, release llms-v2-qwen3-32b-elsewhere ({planted}): "
                            "service.nodePort 30019 is outside") for c in out["environments"][0]["conflicts"]), out


def test_format_ports_collapses_runs_into_ranges():
    assert ports.format_ports([30011, 30006, 30007, 30008]) == "30006-30008, 30011"
    assert ports.format_ports([]) == "none"
