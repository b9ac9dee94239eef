"""Shared fixtures: every (environment, release) helmfile installs, rendered once and shared.

Renders are cached on disk by a digest of all their inputs (see vllm_models.render), so under
`pytest -n auto` a release is rendered by one worker and read by the others; tests of one
release are grouped on one worker (`--dist loadgroup`).
"""
from __future__ import annotations

import functools

import pytest

from charts import render_chart
from vllm_models import render as harness

pytest_plugins = ["policy_support"]  # lists the policy exceptions in force after a run


@functools.lru_cache(maxsize=None)
def installed_releases() -> tuple[harness.Release, ...]:
    """Installed vllm-models releases only: the namespace release has its own tests (test_namespace_chart.py)."""
    return tuple(rel for env in harness.environments() for rel in harness.model_releases(env))


@functools.lru_cache(maxsize=None)
def rendered_release(env: str, name: str) -> harness.Rendered:
    return render_chart(release=(env, name))


@functools.lru_cache(maxsize=None)
def rendered_namespace(env: str) -> harness.Rendered:
    """The environment's llms-namespace release (Namespace, PriorityClasses, ResourceQuota), rendered."""
    return render_chart(release=harness.namespace_release(env))


FLEET_MODULES = {"test_fleet.py", "test_fit.py", "test_golden.py", "test_helmfile.py", "test_namespace_chart.py",
                 "test_policies.py"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """`fleet` marks the tests that read the environments as they are: the fleet-wide rules, the policies,
    the golden renders, helmfile's releases, and every test run over each installed release (the workflow test reruns them in a
    copy after new-model, promote and upgrade, so a documented workflow can never leave them failing)."""
    for item in items:
        callspec = getattr(item, "callspec", None)
        over_the_fleet = callspec is not None and {"rendered_key", "release_key", "namespace_env"} & set(callspec.params)
        if item.path.name in FLEET_MODULES or over_the_fleet:
            item.add_marker(pytest.mark.fleet)


def release_id(rel: harness.Release) -> str:
    return f"{rel.environment}/{rel.name}"


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """`rendered` and `release` parametrize a test over every installed model release of every environment;
    `namespace_rendered` over every environment's namespace release."""
    for fixture in ("rendered", "release"):
        if fixture in metafunc.fixturenames:
            metafunc.parametrize(
                f"{fixture}_key",
                [pytest.param((rel.environment, rel.name), id=release_id(rel),
                              marks=pytest.mark.xdist_group(release_id(rel)))
                 for rel in installed_releases()],
            )
    if "namespace_rendered" in metafunc.fixturenames:
        metafunc.parametrize("namespace_env", harness.environments())


@pytest.fixture
def release(release_key) -> harness.Release:
    return harness.release(*release_key)


@pytest.fixture
def rendered(rendered_key) -> harness.Rendered:
    return rendered_release(*rendered_key)


@pytest.fixture
def namespace_rendered(namespace_env) -> harness.Rendered:
    """`namespace_rendered` parametrizes a test over every environment's namespace release."""
    return rendered_namespace(namespace_env)
