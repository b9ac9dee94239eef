"""pytest plugin (tests/conftest.py: pytest_plugins): after a run, the policies' unit-test coverage and the
policy exceptions in force."""
from __future__ import annotations

from vllm_models import policy
from vllm_models import render as harness


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    nodeids = [report.nodeid for reports in terminalreporter.stats.values() for report in reports
               if hasattr(report, "nodeid")]
    if any("test_rego_units.py" in nodeid for nodeid in nodeids):
        terminalreporter.section("policy unit tests (opa test --coverage)")
        terminalreporter.write_line(f"{len(policy.unit_test_results())} Rego unit tests, "
                                    f"{policy.coverage():.1f}% of the policies' lines covered")
    if not any("test_policies.py" in nodeid for nodeid in nodeids):
        return
    installed = {(env, rel.name) for env in harness.environments() for rel in harness.releases(env)}
    in_force = [e for e in policy.load_exceptions() if (e["environment"], e["release"]) in installed]
    terminalreporter.section("policy exceptions in force (policies/exceptions.yaml)")
    if not in_force:
        terminalreporter.write_line("none: every installed release passes every policy")
    for entry in in_force:
        terminalreporter.write_line(f"environment {entry['environment']}, release {entry['release']}: "
                                    f"[{entry['rule']}] {entry.get('reason') or '(no reason: not applied)'}")
