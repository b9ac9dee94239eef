"""`vllm-models upgrade`: image tags rewritten in place, every release checked on the new version, or nothing written.

Each test works on a copy of the repository (tests/cli_repo.py). Versions, flags and parsers come from the
catalogs (a flag one version has and the next lacks, a parser a version dropped), never from today's fleet.
"""
from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import yaml
from cli_repo import copy_repository, described, run, run_json, snapshot

from charts import render_chart
from vllm_models import fit, vllm_args, vllm_versions, yamledit
from vllm_models import render as harness

CATALOGUED = vllm_args.available_versions()
NEWEST = CATALOGUED[-1]
ENV, RELEASE, MODEL_FILE = "staging", "llms-v2-qwen3-32b", "environments/staging/language/qwen3-32b.yaml"


def key(version: str) -> tuple[int, ...]:
    return vllm_versions.version_key(version)


def pin(root: Path, relative: str, tag: str, **deployment) -> None:
    """Set a model file's image.tag (and deployment keys) in the copy, keeping its comments."""
    path = root / relative
    text = yamledit.set_key(path.read_text(), ["image", "tag"], f'"{tag}"', label=relative)
    for name, value in deployment.items():
        text = yamledit.set_key(text, ["deployment", name], json.dumps(value),
                                label=relative)
    path.write_text(text)


def current_version(root: Path) -> str:
    values = yaml.safe_load((root / MODEL_FILE).read_text())
    return vllm_args.catalog_version(values["image"]["tag"])


def test_one_release_moves_to_another_version_keeping_its_comments_and_rewrites_its_golden_render(tmp_path):
    root = copy_repository(tmp_path)
    now = current_version(root)
    target = next(v for v in reversed(CATALOGUED) if v != now)
    before = (root / MODEL_FILE).read_text()

    dry = run(root, "upgrade", "--env", ENV, "--release", RELEASE, "--to", f"v{target}", "--dry-run")
    assert dry.returncode == 0, described(dry)
    assert "dry run, nothing written" in dry.stdout and (root / MODEL_FILE).read_text() == before

    result = run(root, "upgrade", "--env", ENV, "--release", RELEASE, "--to", f"v{target}")
    assert result.returncode == 0, described(result)
    after = (root / MODEL_FILE).read_text()
    changed = [(old, new) for old, new in zip(before.splitlines(), after.splitlines()) if old != new]
    assert len(before.splitlines()) == len(after.splitlines()) and len(changed) == 1, changed
    assert re.fullmatch(rf'\s*tag: "?v{re.escape(target)}"?', changed[0][1]), changed
    assert f"{RELEASE} ({MODEL_FILE}): v{now} -> v{target}: ok" in result.stdout, described(result)
    assert f"rendered difference, v{now} -> v{target}:" in result.stdout
    assert f"spec.template.spec.containers[vllm].image: vllm/vllm-openai:v{now} → vllm/vllm-openai:v{target}" \
        in result.stdout, described(result)
    golden = root / "tests" / "golden" / ENV / f"{RELEASE}.yaml"
    assert f"vllm/vllm-openai:v{target}" in golden.read_text(), "the environment's golden renders are rewritten"
    assert "next:\n  vllm-models verify --env staging" in result.stdout


def newest_removal(key: str, keep=lambda name, catalog: True) -> tuple[str, str, str]:
    """(name, the newest version that has it, the next catalogued version, which lacks it): the most recent
    entry of the catalogs' `key` that one version dropped, among those `keep(name, older catalog)` accepts."""
    for old, new in reversed(list(zip(CATALOGUED, CATALOGUED[1:]))):
        before = vllm_args.load_catalog(old)
        gone = sorted(set(before[key]) - set(vllm_args.load_catalog(new)[key]))
        kept = [name for name in gone if keep(name, before)]
        if kept:
            return kept[0], old, new
    raise AssertionError(f"no catalogued version drops an entry of {key}")


def removed_flag() -> tuple[str, str, str]:
    """A flag taking a value that a catalogued version removed, with the versions around the removal."""
    return newest_removal("flags", lambda flag, catalog: flag.startswith("--") and catalog["flags"][flag]["takes_value"])


def test_a_flag_the_new_version_removed_refuses_the_upgrade_and_writes_nothing(tmp_path):
    root = copy_repository(tmp_path)
    flag, old, new = removed_flag()
    pin(root, MODEL_FILE, f"v{old}", extraArgs=[flag, "4"])
    files = snapshot(root)
    result = run(root, "upgrade", "--env", ENV, "--release", RELEASE, "--to", f"v{new}")
    assert result.returncode == 2, described(result)
    assert snapshot(root) == files, "a refused upgrade writes nothing"
    assert f"{RELEASE} ({MODEL_FILE}): v{old} -> v{new}: WOULD NOT START" in result.stdout, described(result)
    assert (f"problem: environment {ENV}, release {RELEASE} ({MODEL_FILE}): unknown flag {flag} for vLLM {new}; "
            f"it exists in vLLM ") in result.stdout, described(result)
    assert "refused, nothing written" in result.stdout
    assert f"vllm-models: upgrade of {ENV} {RELEASE} to v{new} refused" in result.stderr


def dropped_tool_parser() -> tuple[str, str, str]:
    """A tool call parser a catalogued version dropped, with the versions around the drop."""
    return newest_removal("tool_call_parsers")


def test_a_tool_parser_the_new_version_dropped_refuses_the_upgrade_reported_as_json(tmp_path):
    root = copy_repository(tmp_path)
    parser, old, new = dropped_tool_parser()
    pin(root, MODEL_FILE, f"v{old}", functionCall=True, toolCallParser=parser)
    files = snapshot(root)
    code, report = run_json(root, "upgrade", "--env", ENV, "--release", RELEASE, "--to", f"v{new}")
    assert code == 2 and report["refused"] is True and report["written"] is False, report
    assert snapshot(root) == files
    [release] = report["releases"]
    assert (release["release"], release["from"], release["to"], release["ok"]) == (RELEASE, f"v{old}", f"v{new}", False)
    assert any(f"--tool-call-parser {parser} is not a valid tool call parser for vLLM {new}" in p
               for p in release["problems"]), release["problems"]
    [change] = report["versions"]
    assert (change["old"], change["new"]) == (old, new) and parser in change["tool_parsers_removed"], change
    assert report["edits"] == [f"{MODEL_FILE} image.tag: v{old} -> v{new}"]


def test_production_may_not_move_past_the_version_staging_runs(tmp_path):
    root = copy_repository(tmp_path)
    older = CATALOGUED[-2]
    pin(root, MODEL_FILE, f"v{older}")
    production = "environments/production-vn/language/qwen3-32b.yaml"
    files = snapshot(root)
    result = run(root, "upgrade", "--env", "production-vn", "--release", RELEASE, "--to", f"v{NEWEST}")
    assert result.returncode == 2, described(result)
    assert snapshot(root) == files
    assert (f"problem: environment production-vn, release {RELEASE} ({production}): image tag v{NEWEST} "
            f"({production} image.tag) is newer than staging's v{older} ({MODEL_FILE} image.tag)") in result.stdout, \
        described(result)


DIGEST = "sha256:" + "0123456789abcdef" * 4  # test data: real digests come from the registry


def test_a_release_pinned_by_digest_refuses_to_move_its_tag_under_the_digest(tmp_path):
    root = copy_repository(tmp_path)
    old, new = CATALOGUED[-2], NEWEST
    pin(root, MODEL_FILE, f"v{old}")
    (root / MODEL_FILE).write_text(yamledit.set_key((root / MODEL_FILE).read_text(), ["image", "digest"],
                                                    f'"{DIGEST}"', label=MODEL_FILE))
    files = snapshot(root)
    result = run(root, "upgrade", "--env", ENV, "--release", RELEASE, "--to", f"v{new}")
    assert result.returncode == 2, described(result)
    assert snapshot(root) == files, "a refused upgrade writes nothing"
    assert (f"{MODEL_FILE}: image.digest {DIGEST} pins the content of v{old}; moved to v{new}, the pods would still "
            f"pull v{old}'s image. Remove image.digest from {MODEL_FILE} before the upgrade and set the registry's "
            f"digest of vllm/vllm-openai:v{new} after it") in result.stdout, described(result)


def test_a_release_pinned_by_digest_on_the_version_it_already_runs_is_left_alone(tmp_path):
    root = copy_repository(tmp_path)
    now = CATALOGUED[-2]
    pin(root, MODEL_FILE, f"v{now}")
    (root / MODEL_FILE).write_text(yamledit.set_key((root / MODEL_FILE).read_text(), ["image", "digest"],
                                                    f'"{DIGEST}"', label=MODEL_FILE))
    result = run(root, "upgrade", "--env", ENV, "--release", RELEASE, "--to", f"v{now}")
    assert result.returncode == 0, described(result)
    assert "image.digest" not in result.stdout, described(result)


def utilization_that_fits_only_before_graphs_count(tag_before: str, tag_after: str) -> float:
    """The lowest gpuMemoryUtilization (in hundredths) at which staging's qwen3-32b fits on `tag_before` but not on
    `tag_after`, where vLLM takes the CUDA graphs from its budget (fit.py; runtime cudaGraphsInBudgetFrom)."""
    rendered = render_chart(release=(ENV, RELEASE), edit=lambda v: v.update(image={"tag": tag_before}))
    pools = fit.node_pools(ENV)
    workload = fit.serving(rendered)
    gpu = fit.product(fit.products_for(workload, pools)[0])
    inputs = fit.release_inputs(rendered, workload, fit.models()[fit.checkpoint(rendered, workload.container)], gpu)
    for hundredths in range(50, 100):
        old = fit.estimate(dataclasses.replace(inputs, utilization=hundredths / 100, graphs_in_budget=False))
        new = fit.estimate(dataclasses.replace(inputs, utilization=hundredths / 100, graphs_in_budget=True))
        if old.fits and old.headroom_ok and not new.fits:
            return hundredths / 100
    raise AssertionError("no utilization separates the two versions' fit")


def test_a_model_that_no_longer_fits_on_the_new_version_refuses_the_upgrade(tmp_path):
    since = fit.version_tuple(fit.runtime()["cudaGraphsInBudgetFrom"])
    before = next(v for v in reversed(CATALOGUED) if key(v) < since)
    after = next(v for v in CATALOGUED if key(v) >= since)
    utilization = utilization_that_fits_only_before_graphs_count(f"v{before}", f"v{after}")
    root = copy_repository(tmp_path)
    pin(root, MODEL_FILE, f"v{before}", gpuMemoryUtilization=utilization)
    files = snapshot(root)
    result = run(root, "upgrade", "--env", ENV, "--release", RELEASE, "--to", f"v{after}")
    assert result.returncode == 2, described(result)
    assert snapshot(root) == files
    assert f"problem: environment {ENV}, release {RELEASE} ({MODEL_FILE}): model " in result.stdout, described(result)
    assert "CUDA graphs ~" in result.stdout and "vLLM refuses to start" in result.stdout, described(result)


def test_a_tag_without_a_catalog_is_refused_before_anything_is_read(tmp_path):
    root = copy_repository(tmp_path)
    result = run(root, "upgrade", "--env", ENV, "--to", "v0.9.9")
    assert result.returncode == 2, described(result)
    assert ("vllm-models: --to v0.9.9: no vLLM catalog for image tag v0.9.9; generate one with "
            "`make generate-vllm-catalog VLLM=0.9.9`") in result.stderr, described(result)
    assert "the upgrade checks every release against that catalog" in result.stderr
