"""The Rego unit tests in policies/*_test.rego, run by `opa test` (one process), one pytest item each.

Every rule has a passing and a failing fixture there, and the failing one asserts the exact
message; the tests below also check that this stays true as rules are added.
"""
from __future__ import annotations

import re

import pytest

from vllm_models import policy

UNIT_TESTS = policy.unit_tests()
TEST_BODY = re.compile(r"^(test_\w+) if \{\n(.*?)^\}", re.M | re.S)


def rego_test_bodies() -> dict[str, str]:
    bodies = {}
    for path in policy.policy_files(tests=True):
        if path.name.endswith("_test.rego"):
            bodies.update({m.group(1): m.group(2) for m in TEST_BODY.finditer(path.read_text())})
    return bodies


@pytest.mark.xdist_group("rego-unit-tests")
@pytest.mark.parametrize("name", [pytest.param(name, id=f"{file}::{name}") for file, name in UNIT_TESTS])
def test_rego_unit_test_passes(name):
    file = dict((n, f) for f, n in UNIT_TESTS)[name]
    results = policy.unit_test_results()
    assert name in results, f"policies/{file}: opa test did not run {name}"
    assert results[name] == "", (
        f"policies/{file}: Rego test {name} failed ({results[name]}); evaluate the rule it asserts against its "
        f"fixture (`opa eval data.main.{name}`) to see the actual message")


def test_the_unit_tests_cover_the_policies():
    """A floor, not today's figure: rules without a test fail the rule-by-rule check above first."""
    assert policy.coverage() >= 90, f"opa test --coverage: {policy.coverage():.1f}% of the policies' lines"


def test_every_rule_has_a_passing_unit_test_and_a_failing_one_that_asserts_its_message():
    bodies = "\n".join(rego_test_bodies().values())
    missing = []
    for name in policy.rule_names():
        if f"count({name}) == 0" not in bodies:
            missing.append(f"{name}: no test asserting count({name}) == 0 on a passing fixture")
        if f"{name} == {{" not in bodies:
            missing.append(f"{name}: no test asserting its exact message ({name} == {{\"[{policy.rule_id(name)}] ...\"}})")
    assert not missing, "policies/*_test.rego:\n" + "\n".join(missing)


def test_unit_tests_mock_objects_instead_of_replacing_input():
    # Rules read input only through data.main.objects (and target), so a test holds whether the input is
    # the runner's List or a `conftest test --combine` list; replacing `input` would tie it to one shape.
    offenders = [name for name, body in rego_test_bodies().items() if "with input as" in body]
    assert not offenders, (f"these Rego tests use `with input as`: {', '.join(offenders)}; "
                           "write `with data.main.objects as [...]` (and `with data.main.target as` for exceptions)")


def test_every_rule_cites_its_source_and_severity_in_a_metadata_block():
    documented = {rule["name"]: rule for rule in policy.rule_metadata()}
    problems = []
    for name in policy.rule_names():
        rule = documented.get(name)
        if rule is None:
            problems.append(f"{name}: no `# METADATA` block right above its first definition")
            continue
        for field in ("title", "description", "source"):
            if not rule[field]:
                problems.append(f"{name} ({rule['file']}): METADATA has no {field}")
        if rule["severity"] != policy.severity(name):
            problems.append(f"{name} ({rule['file']}): METADATA severity {rule['severity']!r} but the rule's "
                            f"prefix makes it {policy.severity(name)!r}")
    assert not problems, "\n".join(problems)


def test_the_policy_readme_lists_every_rule_as_generated():
    current = policy.README.read_text()
    assert current == policy.readme_with_table(current), (
        "policies/README.md's rule table is out of date with the METADATA blocks: run `make generate-policy-docs`")
