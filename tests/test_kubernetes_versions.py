"""Kubernetes versions: every release and chart example renders and validates on each supported minor.

The supported range starts at 1.29 and ends at the newest minor whose official schemas the pinned
kubernetes-validate ships; charts/vllm-models/Chart.yaml declares exactly that range (kubeVersion),
so helm itself refuses a cluster outside it. An API removed in any of these versions has no schema
there, so validation reports it; the removed_api policy's table (policies/data/removed_apis.yaml) is
checked against the same schemas and applied to every version.
"""
from __future__ import annotations

import functools

import pytest
import yaml

from vllm_models import golden, kube_validate, toolchain
from vllm_models import render as harness

pytestmark = pytest.mark.slow

OLDEST = (1, 29)
TARGETS = golden.targets()


def minor(version: str) -> tuple[int, int]:
    major, minor_, *_ = version.split(".")
    return int(major), int(minor_)


TESTED = [m for m in kube_validate.supported_minors() if minor(m) >= OLDEST]

REMOVED_APIS_FILE = toolchain.ROOT / "policies" / "data" / "removed_apis.yaml"  # the removed_api policy's table
REMOVED_APIS = {(entry["apiVersion"], kind): entry["removedIn"]
                for entry in yaml.safe_load(REMOVED_APIS_FILE.read_text())["removedApis"] for kind in entry["kinds"]}


@functools.lru_cache(maxsize=None)
def reads_the_kubernetes_version(chart: str) -> bool:
    """Whether a template of the chart reads .Capabilities.KubeVersion: the only way `helm template
    --kube-version` changes what a chart renders (helm's kubeVersion gate aside, tested below)."""
    return any("KubeVersion" in path.read_text() for path in (toolchain.ROOT / chart / "templates").rglob("*")
               if path.is_file())


def problems_on(target: golden.Target, version: str) -> list[str]:
    """A chart that never reads the version renders the same objects on every minor (proved by
    test_a_chart_that_never_reads_the_kubernetes_version_renders_the_same_on_the_oldest_and_newest_minor):
    its one render is validated against each minor's schemas instead of being rendered again for each."""
    kube_version = f"{version}.0" if reads_the_kubernetes_version(target.chart) else None
    rendered = target.render(kube_version=kube_version)
    found = [p for doc in rendered.documents for p in kube_validate.validate(doc, version)]
    found += [f"{doc['kind']} {doc['metadata']['name']}: {doc['apiVersion']} was removed in Kubernetes {removed}"
              for doc in rendered.documents
              if (removed := REMOVED_APIS.get((doc["apiVersion"], doc["kind"])))
              and minor(removed) <= minor(version)]
    return [f"{target.id} on Kubernetes {version}: {p}" for p in found]


@pytest.mark.parametrize("version", TESTED)
def test_every_release_and_example_renders_objects_valid_on_each_supported_kubernetes_minor(version):
    problems = [p for target in TARGETS for p in problems_on(target, version)]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("version", [TESTED[0], TESTED[-1]])
def test_a_chart_that_never_reads_the_kubernetes_version_renders_the_same_on_the_oldest_and_newest_minor(version):
    differing = [target.id for target in TARGETS if not reads_the_kubernetes_version(target.chart)
                 and target.render(kube_version=f"{version}.0").manifest != target.render().manifest]
    assert not differing, (f"rendered for Kubernetes {version}, these differ from the render for "
                           f"{toolchain.kube_version()} although no template reads .Capabilities.KubeVersion: "
                           f"{differing}")


@pytest.mark.parametrize("template, reads", [("{{ .Capabilities.KubeVersion.Minor }}", True),
                                             ("{{ .Capabilities.APIVersions }}", False)])
def test_a_template_that_reads_the_kubernetes_version_makes_its_chart_render_per_minor(tmp_path, template, reads):
    chart = tmp_path / "charts" / "probe"
    (chart / "templates" / "nested").mkdir(parents=True)
    (chart / "templates" / "nested" / "_version.tpl").write_text(template)
    assert reads_the_kubernetes_version(str(chart)) is reads


def chart_kube_version() -> str:
    return yaml.safe_load((toolchain.CHART_DIR / "Chart.yaml").read_text())["kubeVersion"]


def helm_accepts(version: str) -> bool:
    """Whether helm renders the chart for a cluster of this version (it checks Chart.yaml's kubeVersion)."""
    target = next(t for t in TARGETS if t.chart == "charts/vllm-models")
    try:
        target.render(kube_version=f"{version}.0")
    except harness.RenderError as refused:
        assert "which is incompatible with Kubernetes" in refused.stderr, refused.stderr
        return False
    return True


def test_chart_yaml_declares_exactly_the_tested_kubernetes_minors():
    newest = minor(TESTED[-1])
    around = [f"1.{n}" for n in range(OLDEST[1] - 1, newest[1] + 2)]
    accepted = [version for version in around if helm_accepts(version)]
    assert accepted == TESTED, (
        f"charts/vllm-models/Chart.yaml kubeVersion {chart_kube_version()!r} lets helm render for "
        f"{accepted[0] if accepted else 'no'}..{accepted[-1] if accepted else ''}, but the tested minors are "
        f"{TESTED[0]}..{TESTED[-1]}; set kubeVersion: \">={TESTED[0]}.0-0 <1.{newest[1] + 1}.0-0\"")


def test_the_pinned_kubernetes_version_is_one_of_the_tested_minors():
    assert ".".join(toolchain.kube_version().split(".")[:2]) in TESTED


def served(api: tuple[str, str], version: str) -> bool:
    """Whether the official schemas of a Kubernetes minor have this (apiVersion, kind)."""
    try:
        kube_validate.validator(version, *api)
    except kube_validate.NoSchema:
        return False
    return True


@pytest.mark.parametrize("api, removed", REMOVED_APIS.items(), ids=[f"{a}/{k}" for a, k in REMOVED_APIS])
def test_the_official_schemas_agree_with_the_removed_api_table(api, removed):
    schemas = kube_validate.supported_minors()
    still_served = [v for v in schemas if minor(v) >= minor(removed) and served(api, v)]
    assert not still_served, f"{api[0]} {api[1]} (removed in {removed}) has a schema in {still_served}"
    before = f"1.{minor(removed)[1] - 1}"
    if before in schemas:
        assert served(api, before), f"{api[0]} {api[1]} is not in the {before} schemas: was it removed earlier?"


def test_an_object_on_a_removed_api_is_reported_on_every_tested_version():
    removed_pdb = golden.Target("examples/pdb-v1beta1", "charts/vllm-models", lambda **kw: harness.Rendered(
        None, [{"apiVersion": "policy/v1beta1", "kind": "PodDisruptionBudget", "metadata": {"name": "llms-v2-x"},
                "spec": {"maxUnavailable": 1}}], ""))
    oldest = TESTED[0]
    assert problems_on(removed_pdb, oldest) == [
        f"examples/pdb-v1beta1 on Kubernetes {oldest}: PodDisruptionBudget llms-v2-x: PodDisruptionBudget "
        f"policy/v1beta1 does not exist in Kubernetes {oldest}",
        f"examples/pdb-v1beta1 on Kubernetes {oldest}: PodDisruptionBudget llms-v2-x: policy/v1beta1 was "
        f"removed in Kubernetes 1.25"]
