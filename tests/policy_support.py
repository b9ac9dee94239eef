"""pytest plugin (tests/conftest.py: pytest_plugins): list the policy exceptions in force after a run."""
from __future__ import annotations

from vllm_models import policy
from vllm_models import render as harness


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    ran = any("test_policies.py" in report.nodeid
              for reports in terminalreporter.stats.values() for report in reports if hasattr(report, "nodeid"))
    if not ran:
        return
    installed = {(env, rel.name) for env in harness.environments() for rel in harness.releases(env)}
    in_force = [e for e in policy.load_exceptions() if (e["environment"], e["release"]) in installed]
    terminalreporter.section("policy exceptions in force (policies/exceptions.yaml)")
    if not in_force:
        terminalreporter.write_line("none: every installed release passes every policy")
    for entry in in_force:
        terminalreporter.write_line(f"environment {entry['environment']}, release {entry['release']}: "
                                    f"[{entry['rule']}] {entry.get('reason') or '(no reason: not applied)'}")
