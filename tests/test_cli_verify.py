"""`vllm-models verify FILES`: checks what the changed files affect, and renders only that."""
from __future__ import annotations

import os
import re
import shutil
import time
from pathlib import Path

import pytest

import yaml
from cli_repo import REPOSITORY, cached, copy_repository, described, own_cache, run, run_json
from vllm_models import render as harness


def test_verify_of_one_changed_model_file_renders_only_that_release(tmp_path):
    root = copy_repository(tmp_path)
    warm = run(root, "verify", "--env", "staging", cache=own_cache(root))
    assert warm.returncode in (0, 1), described(warm)
    before = cached(own_cache(root))
    assert before, "verify --env staging rendered nothing into the copy's cache"

    changed = root / "environments/staging/language/qwen3-32b.yaml"
    changed.write_text(changed.read_text() + "\nreplicaCount: 1\n")
    code, report = run_json(root, "verify", "environments/staging/language/qwen3-32b.yaml", cache=own_cache(root))
    helm_runs = cached(own_cache(root)) - before
    assert len(helm_runs) == 1, (f"verify of one staging model file ran helm template {len(helm_runs)} times; "
                                 f"only llms-v2-qwen3-32b changed")
    assert report["checked"] == {"staging": ["llms-v2-qwen3-32b"]}, report["checked"]


def test_a_copy_of_the_repository_elsewhere_reuses_the_renders_of_the_same_content(tmp_path):
    first = copy_repository(tmp_path, folder="first")
    cache = own_cache(first)
    assert run(first, "verify", "--env", "development", cache=cache).returncode in (0, 1)
    before = cached(cache) | cached(cache, "helmfile-build")
    second = copy_repository(tmp_path, folder="second")
    assert run(second, "verify", "--env", "development", cache=cache).returncode in (0, 1)
    added = (cached(cache) | cached(cache, "helmfile-build")) - before
    assert before and not added, f"verify in {second} ran helm or helmfile again for unchanged inputs: {sorted(added)}"

    changed = second / "environments/development/language/qwen3-32b.yaml"
    changed.write_text(changed.read_text() + "\nreplicaCount: 1\n")
    assert run(second, "verify", "--env", "development", cache=cache).returncode in (0, 1)
    assert len(cached(cache) - before) == 1, "an edited model file must render its release again, and only it"


def test_an_edit_of_the_fleet_file_that_helmfile_reads_asks_helmfile_again(tmp_path):
    root = copy_repository(tmp_path)
    assert run(root, "verify", "environments/development/values.yaml", cache=own_cache(root)).returncode in (0, 1)
    before = cached(own_cache(root), "helmfile-build")
    fleet = root / "environments/fleet.yaml"
    fleet.write_text(fleet.read_text() + "# an edit helmfile.yaml.gotmpl reads\n")
    assert run(root, "verify", "environments/development/values.yaml", cache=own_cache(root)).returncode in (0, 1)
    assert cached(own_cache(root), "helmfile-build") - before, \
        "verify answered from a helmfile build cached before environments/fleet.yaml changed"


def test_helmfile_runs_again_for_a_new_model_file_but_not_for_an_edit_inside_one(tmp_path):
    """helmfile makes releases from the folder's file names and passes each model file to helm by path."""
    root = copy_repository(tmp_path)
    cache = own_cache(root)
    assert run(root, "verify", "--env", "development", cache=cache).returncode in (0, 1)
    before = cached(cache, "helmfile-build")
    model = root / "environments/development/language/qwen3-32b.yaml"
    model.write_text(model.read_text() + "\nreplicaCount: 1\n")
    assert run(root, "verify", "--env", "development", cache=cache).returncode in (0, 1)
    assert cached(cache, "helmfile-build") == before, "an edit inside a model file ran helmfile build again"
    (root / "environments/development/language/qwen3-32b-copy.yaml").write_text(model.read_text())
    assert run(root, "verify", "--env", "development", cache=cache).returncode in (0, 1)
    assert cached(cache, "helmfile-build") - before, "a new model file was answered by a stale helmfile build"


def chart_copy(tmp_path, age_seconds: int) -> Path:
    chart = tmp_path / "chart"
    shutil.copytree(REPOSITORY / "charts" / "vllm-models", chart)
    then = time.time() - age_seconds
    for path in chart.rglob("*"):
        os.utime(path, (then, then))
    return chart


def same_size_edit(path: Path) -> None:
    """Change one byte, keep the size and the modification time: what a coarse file clock can hide."""
    stat = path.stat()
    text = path.read_text()
    path.write_text(text[:-2] + ("x" if text[-2] != "x" else "y") + text[-1])
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))


@pytest.mark.parametrize("age_seconds", [0, 3600])
def test_a_chart_edited_without_a_new_size_or_time_is_hashed_again(tmp_path, age_seconds):
    chart = chart_copy(tmp_path, age_seconds)
    before = harness.tree_bytes(chart)
    assert harness.tree_bytes(chart) == before
    same_size_edit(chart / "values.yaml")
    assert harness.tree_bytes(chart) != before, "an edited chart kept the digest (and every cached render) of the old one"


@pytest.mark.parametrize("after, kept", [(0, False), (1, True)])
def test_a_chart_is_hashed_once_per_process_only_once_its_newest_file_is_older_than_the_racy_window(
        monkeypatch, tmp_path, after, kept):
    chart = chart_copy(tmp_path, 3600)
    newest = max(max(p.stat().st_mtime_ns, p.stat().st_ctime_ns) for p in chart.rglob("*") if p.is_file())
    monkeypatch.setattr(harness.time, "time_ns", lambda: newest + harness.RACY_NS + after)
    harness.tree_bytes(chart)
    assert (chart in harness._TREES) == kept, f"{after} ns past the racy window: kept={chart in harness._TREES}"


def test_verify_of_an_environment_values_file_checks_every_release_of_that_environment(tmp_path):
    root = copy_repository(tmp_path)
    _, report = run_json(root, "verify", "environments/development/values.yaml")
    _, listing = run_json(root, "ports", "--env", "development")
    enabled = {u["release"] for r in listing["environments"][0]["ranges"] for u in r["used"] if u["enabled"]}
    assert list(report["checked"]) == ["development"], report["checked"]
    assert enabled <= set(report["checked"]["development"]), (
        f"verify of environments/development/values.yaml skipped {enabled - set(report['checked']['development'])}")


def test_verify_of_files_that_feed_no_release_checks_nothing(tmp_path):
    root = copy_repository(tmp_path)
    (root / "README.md").write_text("notes\n")
    code, report = run_json(root, "verify", "README.md", cache=own_cache(root))
    assert (code, report["checked"], report["findings"]) == (0, {}, [])
    assert cached(own_cache(root)) == set(), "verify rendered releases for a file no release reads"


def test_verify_reports_a_broken_model_file_by_file_and_key(tmp_path):
    root = copy_repository(tmp_path)
    broken = root / "environments/staging/language/qwen3-32b.yaml"
    broken.write_text(broken.read_text().replace("numGPUs: 1", "numGPUs: 2"))
    result = run(root, "verify", "environments/staging/language/qwen3-32b.yaml")
    assert result.returncode == 1, described(result)
    assert "deployment.tensorParallel (1) must equal deployment.numGPUs (2)" in result.stderr, described(result)
    assert "environments/staging/language/qwen3-32b.yaml" in result.stderr


def test_verify_of_one_changed_file_reports_a_port_that_now_differs_between_environments(tmp_path):
    root = copy_repository(tmp_path)
    changed = root / "environments/production-jp/language/qwen3-32b.yaml"
    values = yaml.safe_load(changed.read_text())
    port = values["service"]["nodePort"]
    _, listing = run_json(root, "ports", "--env", "production-jp")
    free = next(p for r in listing["environments"][0]["ranges"] if r["category"] == "language" for p in r["free"])
    changed.write_text(changed.read_text().replace(f"nodePort: {port}", f"nodePort: {free}"))
    code, report = run_json(root, "verify", "environments/production-jp/language/qwen3-32b.yaml")
    assert code == 1, report
    assert report["checked"] == {"production-jp": ["llms-v2-qwen3-32b"]}, report["checked"]
    assert any(f"service.nodePort {free} differs from {port}" in f["message"] for f in report["findings"]), \
        report["findings"]


def test_the_pre_commit_hook_runs_verify_on_exactly_the_files_that_feed_renders():
    config = yaml.safe_load((REPOSITORY / ".pre-commit-config.yaml").read_text())
    hooks = {hook["id"]: hook for repo in config["repos"] for hook in repo["hooks"]}
    assert all(repo["repo"] == "local" for repo in config["repos"]), "remote hook repositories need a download"
    hook = hooks["vllm-models-verify"]
    assert hook["entry"] == ".venv/bin/vllm-models verify" and hook.get("pass_filenames", True)
    files = re.compile(hook["files"])
    feeding = ["environments/staging/values.yaml", "environments/fleet.yaml", "charts/vllm-models/values.yaml",
               "charts/llms-namespace/templates/resourcequota.yaml", "policies/gpu.rego", "helmfile.yaml.gotmpl"]
    assert [f for f in feeding if not files.search(f)] == [], hook["files"]
    assert [f for f in ("README.md", "tests/test_service.py", "docs/helmfile.yaml.gotmpl") if files.search(f)] == []


def test_releases_checked_in_forked_workers_report_what_one_process_reports_in_the_same_order(monkeypatch):
    from vllm_models import verify

    def checked_where(rendered):
        return [verify.Finding("probe", rendered.release.environment, f"{rendered.release.name} pid {os.getpid()}",
                               rendered.release.name)]

    monkeypatch.setattr(verify, "RELEASE_CHECKS", [*verify.RELEASE_CHECKS, checked_where])
    targets = {"staging": verify.ALL, "production-jp": verify.ALL}
    forked = verify.verify(targets)
    monkeypatch.setattr(harness.Workers, "POOL_FROM", 10**9)
    in_process = verify.verify(targets)

    def without_pid(report):
        return [(f.check, f.environment, f.release, re.sub(r" pid \d+$", "", f.message)) for f in report.findings]

    pids = {f.message.rpartition(" pid ")[2] for f in forked.findings if f.check == "probe"}
    assert len(pids) > 1, f"every release of {sorted(targets)} was checked in one process ({pids})"
    assert without_pid(forked) == without_pid(in_process)
    assert forked.checked == in_process.checked
    assert {env: [r.documents for r in renders] for env, renders in forked.renders.items()} == \
        {env: [r.documents for r in renders] for env, renders in in_process.renders.items()}
