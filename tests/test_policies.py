"""Every policy in policies/ over every (environment, release), and the exception mechanics.

One pytest item per (release, rule): a failure names the environment, release, rule id and
message. Warnings (warn_ rules) do not fail; they are reported as pytest warnings. Exceptions
in force are listed at the end of the run (tests/policy_support.py).
"""
from __future__ import annotations

import shutil
import subprocess
import warnings

import pytest
import yaml

from charts import edited_release, render_chart
from conftest import installed_releases, rendered_namespace, rendered_release
from vllm_models import policy
from vllm_models import render as harness

RULES = policy.rule_ids()


class PolicyWarning(UserWarning):
    """A warn_ rule's result: shown in the run's warnings summary, never a failure."""


EVALUATED: dict[tuple[str, str], tuple[policy.Violation, ...]] = {}


def violations_of(rendered: harness.Rendered) -> tuple[policy.Violation, ...]:
    """The whole fleet goes through one conftest process per worker, as verify runs it."""
    if not EVALUATED:
        fleet = [rendered_release(rel.environment, rel.name) for rel in installed_releases()]
        fleet += [rendered_namespace(env) for env in harness.environments()]
        for each, violations in zip(fleet, policy.evaluate(fleet)):
            EVALUATED[(each.release.environment, each.release.name)] = tuple(violations)
    key = (rendered.release.environment, rendered.release.name)
    if key not in EVALUATED:
        EVALUATED[key] = tuple(policy.evaluate_release(rendered))
    return EVALUATED[key]


def check(violations, rule: str) -> None:
    found = [v for v in violations if v.rule == rule]
    for v in found:
        if v.severity == "warn" and not v.excepted:
            warnings.warn(PolicyWarning(str(v)))
    blocking = [str(v) for v in found if v.severity == "deny" and not v.excepted]
    assert not blocking, "\n".join(blocking)


@pytest.mark.parametrize("rule", RULES)
def test_release_satisfies_policy(rendered, rule):
    check(violations_of(rendered), rule)


@pytest.mark.parametrize("rule", RULES)
def test_namespace_release_satisfies_policy(namespace_rendered, rule):
    check(violations_of(namespace_rendered), rule)


def test_every_exception_declared_for_a_release_excepts_something(rendered):
    rel = rendered.release
    excepted = {v.rule for v in violations_of(rendered) if v.excepted}
    stale = [e["rule"] for e in policy.load_exceptions()
             if e["environment"] == rel.environment and e["release"] == rel.name and e["rule"] not in excepted]
    assert not stale, (f"policies/exceptions.yaml excepts rule(s) {', '.join(stale)} for environment "
                       f"{rel.environment}, release {rel.name}, but no policy reports them there: remove the stale entries")


def test_every_exception_names_an_installed_release_and_a_known_rule():
    installed = {(env, rel.name) for env in harness.environments() for rel in harness.releases(env)}
    problems = []
    for index, entry in enumerate(policy.load_exceptions()):
        where = f"policies/exceptions.yaml exceptions[{index}]"
        if (entry["environment"], entry["release"]) not in installed:
            problems.append(f"{where}: environment {entry['environment']} installs no release {entry['release']}")
        if entry["rule"] not in RULES:
            problems.append(f"{where}: no policy rule {entry['rule']} (rules: {', '.join(RULES)})")
    assert not problems, "\n".join(problems)


# --- Exception mechanics, on a real render that deviates: seed 003's page-cache drop ------

DROP_CACHE_RULES = {"privileged", "privilege_escalation", "host_namespaces", "run_as_non_root"}


def page_cache_drop(tmp_path) -> harness.Rendered:
    rel = edited_release(tmp_path, "development", "llms-v2-qwen3-32b",
                         lambda values: values.update(dropPageCache={"enabled": True}))
    return render_chart(release=rel)


def exceptions_file(tmp_path, *entries: dict):
    path = tmp_path / "exceptions.yaml"
    path.write_text(yaml.safe_dump({"exceptions": list(entries)}, sort_keys=False))
    return path


def exception(rule: str, environment: str = "development", **extra) -> dict:
    entry = {"environment": environment, "release": "llms-v2-qwen3-32b", "rule": rule,
             "reason": "seed 003 page-cache drop, measured on a dedicated node"}
    entry.update(extra)
    return entry


def test_the_page_cache_drop_is_reported_by_exactly_the_privilege_rules(tmp_path):
    violations = policy.evaluate_release(page_cache_drop(tmp_path), exceptions=exceptions_file(tmp_path))
    assert {v.rule for v in violations if v.severity == "deny"} == DROP_CACHE_RULES
    assert not any(v.excepted for v in violations)


def test_a_declared_exception_suppresses_exactly_that_rule_for_that_release(tmp_path):
    exceptions = exceptions_file(tmp_path, exception("privileged"),
                                 exception("privilege_escalation", environment="staging"))
    violations = policy.evaluate_release(page_cache_drop(tmp_path), exceptions=exceptions)
    assert {v.rule for v in violations if v.excepted} == {"privileged"}
    assert {v.rule for v in violations if not v.excepted} == DROP_CACHE_RULES - {"privileged"}
    assert [str(v) for v in violations if v.excepted] == [
        f"environment development, release llms-v2-qwen3-32b: [privileged] excepted by {exceptions}: seed 003 "
        f"page-cache drop, measured on a dedicated node"], "conftest reports an excepted rule with its reason"


def test_an_exception_without_a_reason_excepts_nothing_and_fails_naming_rule_environment_and_release(tmp_path):
    entries = [exception(rule) for rule in sorted(DROP_CACHE_RULES)]
    del entries[1]["reason"]
    violations = policy.evaluate_release(page_cache_drop(tmp_path), exceptions=exceptions_file(tmp_path, *entries))
    blocking = [str(v) for v in violations if v.severity == "deny" and not v.excepted]
    assert blocking == [
        "environment development, release llms-v2-qwen3-32b: [exception_reason] policies/exceptions.yaml: the "
        "exception of rule privilege_escalation for environment development, release llms-v2-qwen3-32b has no "
        "reason, so it is not applied; say why this release may deviate (reason: ...) or remove the entry",
        "environment development, release llms-v2-qwen3-32b: [privilege_escalation] Deployment llms-v2-qwen3-32b "
        "container vllm: allowPrivilegeEscalation is true; set containerSecurityContext.allowPrivilegeEscalation: false",
    ]


@pytest.mark.parametrize("content, message", [
    ("exceptions: {}\n", "expected a top-level `exceptions:` list (use `exceptions: []` for none)"),
    ("exceptions:\n  - privileged\n", "exceptions[0] is 'privileged'; each exception is a mapping with environment, "
                                      "release, rule, reason"),
    ("exceptions:\n  - {environment: development, release: r, rule: privileged, reason: x, until: 2026}\n",
     "exceptions[0] has unknown key(s) until; allowed: environment, release, rule, reason"),
    ("exceptions:\n  - {environment: development, rule: privileged, reason: x}\n",
     "exceptions[0] has no release; name the release the deviation applies to"),
])
def test_a_malformed_exceptions_file_is_refused_naming_the_entry_and_the_key(tmp_path, content, message):
    path = tmp_path / "exceptions.yaml"
    path.write_text(content)
    with pytest.raises(policy.PolicyError) as refused:
        policy.load_exceptions(path)
    assert str(refused.value) == f"{path}: {message}"


# --- The engine: conftest, one process per batch of releases ----------------------------------

def conftest_runs(monkeypatch) -> list[list[str]]:
    """The command of every conftest process started from now on."""
    calls = []
    real = subprocess.Popen

    def counted(command, *args, **kwargs):
        calls.append(command)
        return real(command, *args, **kwargs)
    monkeypatch.setattr(policy.subprocess, "Popen", counted)
    return calls


def test_every_release_checked_at_once_costs_one_conftest_process(monkeypatch):
    renders = [rendered_release("staging", rel.name) for rel in harness.model_releases("staging")]
    one_by_one = [policy.evaluate_release(rendered) for rendered in renders]
    calls = conftest_runs(monkeypatch)
    together = policy.evaluate(renders)
    assert len(calls) == 1 and calls[0][:2] == [policy.toolchain.tool("conftest"), "test"], calls
    assert together == one_by_one, "a release's results depend on what else conftest evaluated with it"
    assert calls[0][-len(renders):] == [f"staging/{r.release.name}.yaml" for r in renders]


def test_conftest_runs_with_its_own_flags_namespace_data_and_no_combine(monkeypatch):
    calls = conftest_runs(monkeypatch)
    policy.evaluate([rendered_release("development", "llms-v2-qwen3-32b")])
    [command] = calls
    assert command[command.index("--namespace") + 1] == "main"
    assert command[command.index("--policy") + 1] == str(policy.POLICY_DIR)
    data = [command[i + 1] for i, arg in enumerate(command) if arg == "--data"]
    assert data[:len(policy.DATA_FILES)] == [str(p) for p in policy.DATA_FILES]
    assert data[len(policy.DATA_FILES)] == str(policy.EXCEPTIONS_FILE) and data[-1].endswith("kubernetes.json")
    assert "--combine" not in command, "each release is one List document: results come back per release"


# --- verify's batches: conftest processes started while helm renders the rest -----------------

@pytest.fixture
def fresh_cache(monkeypatch, tmp_path):
    """An empty render cache: every release's policies run in conftest, none come from earlier runs."""
    monkeypatch.setattr(harness, "CACHE_DIR", tmp_path / "cache")
    return tmp_path / "cache"


def batch_sizes(monkeypatch, total: int, cores: int, added: int | None = None) -> tuple[list[int], list[int]]:
    """(batches started while adding, batches started by findings()) for `added` releases of `total`
    (with fresh_cache: a cached release starts no batch)."""
    from vllm_models import verify

    started = []

    class Finished:
        def results(self):
            return []
    monkeypatch.setattr(policy, "start", lambda renders: started.append(len(renders)) or Finished())
    batches = verify.PolicyBatches(total, cores=cores)
    rendered = rendered_release("development", "llms-v2-qwen3-32b")
    for _ in range(total if added is None else added):
        batches.add(rendered)
    during = list(started)
    batches.findings()
    return during, started[len(during):]


@pytest.mark.parametrize("total, size", [(32, 8), (33, 9), (7, 8)])
def test_the_first_batch_starts_once_it_holds_a_quarter_of_the_releases_on_two_cores_and_never_fewer_than_eight(
        monkeypatch, fresh_cache, total, size):
    from vllm_models import verify

    assert verify.PolicyBatches.SMALLEST == 8
    during, _ = batch_sizes(monkeypatch, total, cores=2, added=size)
    assert during == [size], f"{total} releases: a first batch of {size} expected, started {during}"
    during, _ = batch_sizes(monkeypatch, total, cores=2, added=size - 1)
    assert during == [], f"{total} releases: a batch started before it held {size}"


def test_batches_shrink_to_a_quarter_of_the_releases_not_yet_started_so_the_last_end_soon_after_rendering(
        monkeypatch, fresh_cache):
    during, tail = batch_sizes(monkeypatch, 200, cores=2)
    assert during == [50, 38, 28, 21, 16, 12, 9, 8, 8, 8] and tail == [2], (during, tail)
    assert sum(during + tail) == 200


@pytest.mark.parametrize("left, parts", [(0, []), (1, [1]), (8, [8]), (9, [5, 4]), (16, [8, 8]), (17, [9, 8])])
def test_the_releases_left_when_rendering_ends_are_split_over_the_cores_in_batches_of_eight_or_more(
        monkeypatch, fresh_cache, left, parts):
    during, tail = batch_sizes(monkeypatch, total=400, cores=2, added=left)
    assert (during, tail) == ([], parts), f"{left} releases left on 2 cores: expected batches {parts}, got {tail}"


def test_releases_checked_in_batches_get_exactly_the_findings_of_one_conftest_process(fresh_cache, tmp_path):
    from vllm_models import verify

    drop = page_cache_drop(tmp_path)  # its privilege findings must come back whichever batch it lands in
    renders = [drop if (rel.environment, rel.name) == (drop.release.environment, drop.release.name)
               else rendered_release(rel.environment, rel.name) for rel in installed_releases()]
    batches = verify.PolicyBatches(len(renders), cores=2)
    for rendered in renders:
        batches.add(rendered)
    expected = [str(v) for violations in policy.evaluate(renders) for v in violations
                if v.severity == "deny" and not v.excepted]
    assert len(expected) >= len(DROP_CACHE_RULES)
    assert sorted(f.message for f in batches.findings()) == sorted(expected)


def test_a_broken_exceptions_file_is_reported_once_however_many_batches_fail(monkeypatch, fresh_cache, tmp_path):
    from vllm_models import verify

    broken = tmp_path / "exceptions.yaml"
    broken.write_text("exceptions: {}\n")
    real = policy.start
    monkeypatch.setattr(policy, "start", lambda renders: real(renders, exceptions=broken))
    batches = verify.PolicyBatches(16, cores=2)
    for _ in range(16):
        batches.add(rendered_release("development", "llms-v2-qwen3-32b"))
    findings = batches.findings()
    assert [f.message for f in findings] == [f"{broken}: expected a top-level `exceptions:` list (use `exceptions: []` "
                                             f"for none)"], findings


def test_a_release_is_one_kubernetes_list_annotated_with_its_environment_and_release():
    rendered = rendered_release("development", "llms-v2-qwen3-32b")
    document = policy.release_document(rendered)
    assert (document["kind"], document["items"]) == ("List", rendered.documents)
    assert document["metadata"]["annotations"] == {"vllm-models.io/environment": "development",
                                                   "vllm-models.io/release": "llms-v2-qwen3-32b"}


def test_the_engine_is_the_pinned_conftest():
    assert policy.engine().startswith(f"conftest ({policy.toolchain.tool('conftest')}")


def test_make_policy_prints_each_release_of_the_environment_and_the_engine(capsys):
    assert policy.main(["--env", "development"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"policy engine: {policy.engine()}"
    names = [rel.name for rel in harness.releases("development")]
    assert out[1:] == [f"ok    development/{name}" for name in names]


def test_make_policy_refuses_an_unknown_release_naming_the_installed_ones(capsys):
    assert policy.main(["--env", "development", "--release", "llms-v2-nope"]) == 2
    names = ", ".join(rel.name for rel in harness.releases("development"))
    assert capsys.readouterr().err == (f"vllm-models policy: environment development installs no release "
                                       f"llms-v2-nope (installed: {names})\n")


def test_a_release_checked_before_takes_its_results_from_the_cache_and_runs_no_conftest(monkeypatch, fresh_cache,
                                                                                        tmp_path):
    from vllm_models import verify

    renders = [page_cache_drop(tmp_path)] + [rendered_release("staging", rel.name)
                                             for rel in harness.model_releases("staging")]

    def checked() -> list[verify.Finding]:
        batches = verify.PolicyBatches(len(renders), cores=2)
        for rendered in renders:
            batches.add(rendered)
        return batches.findings()
    calls = conftest_runs(monkeypatch)
    first = checked()
    assert calls and len(first) >= len(DROP_CACHE_RULES)
    calls.clear()
    assert checked() == first and calls == [], "the same releases, policies and data ran conftest again"


@pytest.mark.parametrize("changed", ["exceptions", "kubernetes version", "policies", "data"])
def test_an_edit_of_the_policies_their_data_or_the_exceptions_checks_every_release_again(monkeypatch, tmp_path,
                                                                                       changed):
    before = policy.inputs_digest()
    if changed == "exceptions":
        edited = exceptions_file(tmp_path, exception("privileged"))
        assert policy.inputs_digest(exceptions=edited) != before
    elif changed == "kubernetes version":
        assert policy.inputs_digest(kube_version="1.30.0") != before
    elif changed == "policies":
        copied = tmp_path / "policies"
        shutil.copytree(policy.POLICY_DIR, copied)
        (copied / "lib.rego").write_text((copied / "lib.rego").read_text() + "\n# an edit\n")
        monkeypatch.setattr(policy, "POLICY_DIR", copied)
        assert policy.inputs_digest() != before
    else:
        data = tmp_path / "rules.yaml"
        data.write_text(policy.DATA_FILES[1].read_text() + "\n# an edit\n")
        monkeypatch.setattr(policy, "DATA_FILES", (policy.DATA_FILES[0], data, *policy.DATA_FILES[2:]))
        assert policy.inputs_digest() != before
