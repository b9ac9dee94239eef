"""Every policy in policies/ over every (environment, release), and the exception mechanics.

One pytest item per (release, rule): a failure names the environment, release, rule id and
message. Warnings (warn_ rules) do not fail; they are reported as pytest warnings. Exceptions
in force are listed at the end of the run (tests/policy_support.py).
"""
from __future__ import annotations

import json
import os
import concurrent.futures
import stat
import sys
import textwrap
import threading
import time
import warnings

import pytest
import yaml

from charts import edited_release, render_chart
from conftest import rendered_release
from vllm_models import policy
from vllm_models import render as harness

RULES = policy.rule_ids()


class PolicyWarning(UserWarning):
    """A warn_ rule's result: shown in the run's warnings summary, never a failure."""


EVALUATED: dict[tuple[str, str], tuple[policy.Violation, ...]] = {}


def violations_of(rendered: harness.Rendered) -> tuple[policy.Violation, ...]:
    """Each release is evaluated once per worker; its tests run grouped on that worker."""
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
        "environment development, release llms-v2-qwen3-32b: [privileged] Deployment llms-v2-qwen3-32b container "
        "vllm: runs privileged; remove securityContext.privileged (dropPageCache.enabled needs it: declare that in "
        "policies/exceptions.yaml with a reason)"]


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


# --- The conftest path (conftest cannot be installed here: a stand-in checks the contract) --

FAKE_CONFTEST = textwrap.dedent("""\
    #!{python}
    import json, pathlib, sys
    args = sys.argv[1:]
    pathlib.Path({record!r}).write_text(json.dumps({{"args": args, "cwd": str(pathlib.Path.cwd()),
        "manifest": pathlib.Path(args[-1]).read_text()}}))
    print(json.dumps([{{"filename": "Combined", "namespace": "main", "successes": 30,
        "failures": [{{"msg": "[host_namespaces] Deployment x: sets hostPID: true"}}],
        "warnings": [{{"msg": "[readiness_equals_liveness] Deployment x container vllm: identical"}}],
        "exceptions": [{{"msg": 'data.main.exception[_][_] == "privileged"'}}]}}]))
    sys.exit(1)
""")


def test_with_conftest_on_path_each_release_runs_through_conftest_test_combine(tmp_path, monkeypatch):
    record = tmp_path / "call.json"
    binary = tmp_path / "bin" / "conftest"
    binary.parent.mkdir()
    binary.write_text(FAKE_CONFTEST.format(python=sys.executable, record=str(record)))
    binary.chmod(binary.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{binary.parent}{os.pathsep}{os.environ['PATH']}")
    rendered = rendered_release("staging", "llms-v2-qwen3-32b")
    exceptions = exceptions_file(tmp_path, exception("privileged", environment="staging"))

    assert policy.engine() == f"conftest ({binary}, subprocess)"
    violations = policy.evaluate_release(rendered, exceptions=exceptions)

    call = json.loads(record.read_text())
    data_files = [str(p) for p in policy.DATA_FILES] + [str(exceptions), f"{call['cwd']}/kubernetes.json"]
    assert call["args"] == ["test", "--combine", "--no-color", "--output", "json", "--namespace", "main",
                            "--policy", str(policy.POLICY_DIR),
                            *[arg for path in data_files for arg in ("--data", path)],
                            "staging/llms-v2-qwen3-32b.yaml"]
    assert call["manifest"] == rendered.manifest
    assert [str(v) for v in violations] == [
        "environment staging, release llms-v2-qwen3-32b: [host_namespaces] Deployment x: sets hostPID: true",
        "environment staging, release llms-v2-qwen3-32b: [privileged] excepted by " + str(exceptions)
        + ": seed 003 page-cache drop, measured on a dedicated node",
        "environment staging, release llms-v2-qwen3-32b: [readiness_equals_liveness] Deployment x container vllm: "
        "identical",
    ]
    assert [(v.severity, v.excepted) for v in violations] == [("deny", False), ("deny", True), ("warn", False)]


def test_without_conftest_the_policies_run_in_process_with_regopy(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    assert policy.engine().startswith("regopy ")
    assert policy.engine().endswith("(in-process; conftest is not on PATH)")


def test_threads_evaluating_releases_at_once_never_call_into_regopy_at_the_same_time(monkeypatch):
    """regopy reaches rego-cpp through ctypes, which releases the GIL, and one interpreter is shared:
    verify's thread pool once crashed the process with SIGSEGV. Each regopy call here is slowed so
    that any two threads inside it at once would overlap; none may."""
    import regopy

    inside, overlaps, guard = [0], [], threading.Lock()

    def exclusive(method):
        def call(self, *args, **kwargs):
            with guard:
                inside[0] += 1
                if inside[0] > 1:
                    overlaps.append(method.__name__)
            time.sleep(0.002)
            try:
                return method(self, *args, **kwargs)
            finally:
                with guard:
                    inside[0] -= 1
        return call

    for name in ("add_data", "add_module", "build", "set_input", "query", "query_bundle"):
        monkeypatch.setattr(regopy.Interpreter, name, exclusive(getattr(regopy.Interpreter, name)))
    monkeypatch.setenv("PATH", "/nonexistent")
    policy._compiled_interpreter.cache_clear()
    renders = [rendered_release("staging", rel.name) for rel in harness.releases("staging")] * 3
    with concurrent.futures.ThreadPoolExecutor(max_workers=6) as pool:
        concurrent_results = list(pool.map(policy.evaluate_release, renders))
    serial_results = [policy.evaluate_release(r) for r in renders]
    assert not overlaps, f"threads were inside regopy at once in: {sorted(set(overlaps))}"
    assert concurrent_results == serial_results, "a release's violations depended on what another thread evaluated"


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
