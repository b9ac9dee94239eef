"""`vllm-models plan`: GPUs, memory and CPU per enabled release, surge headroom, and what the quota leaves."""
from __future__ import annotations

import yaml
from cli_repo import REPOSITORY, copy_repository, described, run, run_json, set_gpu_quota

from vllm_models import capacity, fit
from vllm_models import render as harness


def test_plan_totals_every_enabled_release_and_subtracts_the_peak_from_the_quota(tmp_path):
    root = copy_repository(tmp_path)
    code, plan = run_json(root, "plan", "--env", "staging")
    assert code == 0, plan
    gpu = "requests.nvidia.com/gpu"
    rows = {r["release"]: r for r in plan["releases"]}
    assert set(rows) == {rel.name for rel in harness.model_releases("staging")}, sorted(rows)
    for name, row in rows.items():
        assert int(row["steady"][gpu]) == row["replicas"] * row["podsPerReplica"] * int(row["perPod"][gpu]), row
        assert int(row["steady"]["pods"]) == row["replicas"] * row["podsPerReplica"], row
        assert int(row["surge"][gpu]) == (row["surgePods"] * int(row["perPod"][gpu]) if row["waitsForSurge"] else 0), row
    steady = sum(int(r["steady"][gpu]) for r in rows.values())
    surges = sum(int(r["surge"][gpu]) for r in rows.values())
    assert (int(plan["steady"][gpu]), int(plan["surge"][gpu]), int(plan["peak"][gpu])) == (
        steady, surges, steady + surges)
    assert plan["quota"] is not None, plan["quotaSource"]
    assert int(plan["remaining"][gpu]) == int(plan["quota"][gpu]) - steady - surges
    table = run(root, "plan", "--env", "staging")
    assert all(name in table.stdout for name in rows) and "remaining" in table.stdout, described(table)


def test_plan_states_how_far_the_fit_estimate_may_sit_above_vllms_own_figures(tmp_path):
    """The margin and the count come from the data: environments/gpus.yaml and the calibration fixture."""
    margin = yaml.safe_load((REPOSITORY / fit.GPUS_FILE).read_text())["vllmMemory"]["fitMarginGiB"]
    cases = yaml.safe_load((REPOSITORY / fit.CALIBRATION_FILE).read_text())["cases"]
    logs = sum(1 for case in cases if case.get("engine", "V1") == "V1")
    root = copy_repository(tmp_path)
    code, plan = run_json(root, "plan", "--env", "staging")
    assert code == 0, plan
    assert plan["fitMargin"]["marginGiB"] == margin and plan["fitMargin"]["publicLogs"] == logs, plan["fitMargin"]
    assert plan["fitMargin"]["worstGiB"] <= margin and plan["fitMargin"]["file"] == fit.CALIBRATION_FILE
    table = run(root, "plan", "--env", "staging")
    assert (f"fit margin: the KV cache estimate is at most {margin:g} GiB per GPU above vLLM's own figure in {logs} "
            f"public start-up logs (tests/fixtures/fit_calibration.yaml; docs/fit.md)") in table.stdout, described(table)


def test_plan_exits_1_and_names_the_release_that_tips_the_quota_over(tmp_path):
    root = copy_repository(tmp_path)
    _, before = run_json(root, "plan", "--env", "staging")
    peak = int(before["peak"]["requests.nvidia.com/gpu"])
    set_gpu_quota(root, "staging", peak - 1)
    result = run(root, "plan", "--env", "staging")
    assert result.returncode == 1, described(result)
    assert (f"over quota: environment staging: quota requests.nvidia.com/gpu is {peak - 1} "
            f"(environments/staging/values.yaml namespace.quota.requests.nvidia.com/gpu) but the enabled releases "
            f"need {peak} (") in result.stdout, described(result)
    assert " tips it over: " in result.stdout, described(result)


def test_an_environment_without_a_namespace_release_has_no_quota_known(monkeypatch):
    def missing(env):
        raise LookupError(f"environment {env}: helmfile.yaml.gotmpl installs 0 releases of charts/llms-namespace")
    monkeypatch.setattr(harness, "namespace_release", missing)
    plan = capacity.plan("staging", [])
    assert (plan.quota, plan.problems, plan.remaining) == (None, [], {})
    assert plan.quota_note == ("no quota known: environment staging: helmfile.yaml.gotmpl installs 0 releases of "
                               "charts/llms-namespace")
