"""`vllm-models plan`: GPUs, memory and CPU per enabled release, surge headroom, and what the quota leaves."""
from __future__ import annotations

from cli_repo import copy_repository, described, plant_copy_of, run, run_json

from vllm_models import capacity
from vllm_models import render as harness


def test_plan_totals_every_enabled_release_and_subtracts_the_peak_from_the_quota(tmp_path):
    root = copy_repository(tmp_path)
    code, plan = run_json(root, "plan", "--env", "staging")
    assert code == 0, plan
    gpu = "requests.nvidia.com/gpu"
    rows = {r["release"]: r for r in plan["releases"]}
    assert rows["llms-v2-llama-3-3-70b-instruct"]["perPod"][gpu] == "4", rows["llms-v2-llama-3-3-70b-instruct"]
    steady = sum(int(r["steady"][gpu]) for r in rows.values())
    largest = max(int(r["surge"][gpu]) for r in rows.values())
    assert (int(plan["steady"][gpu]), int(plan["surge"][gpu]), int(plan["peak"][gpu])) == (
        steady, largest, steady + largest)
    assert plan["quota"] is not None, plan["quotaSource"]
    assert int(plan["remaining"][gpu]) == int(plan["quota"][gpu]) - steady - largest
    table = run(root, "plan", "--env", "staging")
    assert "llms-v2-llama-3-3-70b-instruct" in table.stdout and "remaining" in table.stdout, described(table)


def test_plan_exits_1_and_names_the_release_that_tips_the_quota_over(tmp_path):
    root = copy_repository(tmp_path)
    _, before = run_json(root, "plan", "--env", "staging")
    assert int(before["remaining"]["requests.nvidia.com/gpu"]) < 8, before["remaining"]
    plant_copy_of(root, "staging", "deepseek-r1", "deepseek-v3", 30034)
    result = run(root, "plan", "--env", "staging")
    assert result.returncode == 1, described(result)
    assert "over quota: environment staging: quota requests.nvidia.com/gpu is" in result.stdout, described(result)


def test_an_environment_without_a_namespace_release_has_no_quota_known(monkeypatch):
    def missing(env):
        raise LookupError(f"environment {env}: helmfile.yaml.gotmpl installs 0 releases of charts/llms-namespace")
    monkeypatch.setattr(harness, "namespace_release", missing)
    plan = capacity.plan("staging", [])
    assert (plan.quota, plan.problems, plan.remaining) == (None, [], {})
    assert plan.quota_note == ("no quota known: environment staging: helmfile.yaml.gotmpl installs 0 releases of "
                               "charts/llms-namespace")
