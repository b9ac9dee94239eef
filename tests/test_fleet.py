"""Fleet-wide rules (vllm_models.fleet): every environment passes each; a broken fixture fails each, by message."""
from __future__ import annotations

import copy
import dataclasses

import pytest
import yaml

from charts import edited_release, render_chart
from conftest import rendered_namespace, rendered_release
from vllm_models import capacity, fleet, ports, rules
from vllm_models import render as harness
from vllm_models import toolchain

ENVIRONMENTS = harness.environments()
FIXTURES = toolchain.ROOT / "tests" / "fixtures" / "fleet"


def configured(env: str) -> list[harness.Release]:
    return harness.model_releases(env, include_disabled=True)


def installed_renders(env: str) -> list[harness.Rendered]:
    return [rendered_release(env, rel.name) for rel in harness.model_releases(env)]


def copy_of(rendered: harness.Rendered) -> harness.Rendered:
    return harness.Rendered(rendered.release, copy.deepcopy(rendered.documents), rendered.manifest)


def with_model_file(env: str, name: str, path) -> harness.Release:
    """The release as helmfile defines it, reading `path` as its model file (labelled with its repo path)."""
    rel = harness.release(env, name)
    label = path.relative_to(toolchain.ROOT).as_posix()
    source = harness.ValuesSource(label, yaml.safe_load(path.read_text()), path)
    return dataclasses.replace(rel, sources=(*rel.sources[:-1], source))


# --- The real fleet passes every rule ------------------------------------------------------------

@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_environment_passes_every_fleet_rule(env):
    assert fleet.check_environment(env) == []


def test_the_environments_agree_on_ports_and_promote_only_what_staging_runs():
    assert fleet.check_across_environments() == []


def test_check_fleet_runs_the_per_environment_and_the_cross_environment_rules():
    assert fleet.check_fleet() == []
    assert fleet.check_fleet(["production-jp"]) == []


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_configured_nodeport_lies_in_its_categorys_range(env):
    assert ports.nodeport_ranges(configured(env), ports.port_ranges()) == []


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_release_fits_the_environments_quota_with_every_rollout_at_once(env):
    assert capacity.capacity(installed_renders(env), rendered_namespace(env)) == []


# --- NodePorts: the seeds' original ports are rejected -------------------------------------------

def test_the_seeds_gemma_port_30027_is_rejected_as_outside_the_vision_language_range():
    rel = with_model_file("staging", "llms-v2-gemma-3-27b-it", FIXTURES / "gemma-3-27b-it.yaml")
    assert ports.nodeport_ranges([rel], ports.port_ranges()) == [
        "environment staging, release llms-v2-gemma-3-27b-it (tests/fixtures/fleet/gemma-3-27b-it.yaml): "
        "service.nodePort 30027 is outside the vision-language range 30018-30022: it lies in the "
        "language-extended range 30025-30035, which belongs to language; pick a free port in the "
        "vision-language range 30018-30022"]


@pytest.mark.parametrize("model, port", [("deepseek-r1", 30038), ("qwen3-32b-lmcache", 30040)])
def test_the_seeds_language_ports_beyond_the_table_are_rejected_as_outside_every_range(model, port):
    rel = with_model_file("staging", f"llms-v2-{model}", FIXTURES / f"{model}.yaml")
    assert ports.nodeport_ranges([rel], ports.port_ranges()) == [
        f"environment staging, release llms-v2-{model} (tests/fixtures/fleet/{model}.yaml): "
        f"service.nodePort {port} is outside every model range (environments/fleet.yaml portRanges); "
        f"a language model takes a free port in the language range 30006-30013 or the "
        f"language-extended range 30025-30035"]


def test_a_category_without_a_declared_range_is_reported():
    rel = harness.release("staging", "llms-v2-gemma-3-27b-it")
    ranges = [r for r in ports.port_ranges() if r.category != "vision-language"]
    assert ports.nodeport_ranges([rel], ranges) == [
        "environment staging, release llms-v2-gemma-3-27b-it (environments/staging/vision-language/gemma-3-27b-it.yaml): "
        "service.nodePort 30018 has no range to be checked against: environments/fleet.yaml portRanges "
        "declares none for category vision-language; add one"]


def test_two_releases_on_one_nodeport_are_reported_with_both_files():
    qwen = rendered_release("development", "llms-v2-qwen3-32b")
    clash = copy_of(rendered_release("development", "llms-v2-gemma-3-27b-it"))
    clash.one("Service")["spec"]["ports"][0]["nodePort"] = 30025
    assert ports.nodeport_conflicts([qwen, clash]) == [
        "environment development: NodePort 30025 (service.nodePort) is used by 2 releases: "
        "llms-v2-qwen3-32b (environments/development/language/qwen3-32b.yaml), "
        "llms-v2-gemma-3-27b-it (environments/development/vision-language/gemma-3-27b-it.yaml); "
        "give each a free port in its category's range (`vllm-models ports --env development`)"]


# --- NodePorts: the same port in every environment, unless declared ------------------------------

def fleet_with(tmp_path, env: str, name: str, port: int) -> dict[str, list[harness.Release]]:
    moved = edited_release(tmp_path, env, name, lambda values: values["service"].update(nodePort=port))
    return {e: [moved if (e, r.name) == (env, name) else r for r in configured(e)] for e in ENVIRONMENTS}


def test_a_release_whose_port_differs_between_environments_is_reported_with_both_files(tmp_path):
    releases = fleet_with(tmp_path, "production-jp", "llms-v2-qwen3-32b", 30026)
    assert ports.nodeport_drift(releases, ENVIRONMENTS, []) == [
        "environment production-jp, release llms-v2-qwen3-32b (environments/production-jp/language/qwen3-32b.yaml): "
        "service.nodePort 30026 differs from 30025 in environment development "
        "(environments/development/language/qwen3-32b.yaml); clients and firewalls follow the port, so keep 30025, "
        "or declare the change in environments/fleet.yaml portChanges (release: llms-v2-qwen3-32b, "
        "environment: production-jp, nodePort: 30026, reason: ...)"]


def colliding_pair() -> tuple[str, str, harness.Release, harness.Release]:
    """From the fleet: the first environment, a later one, and two releases both configure on their own ports
    in both (the one to move onto the other's port, and the other)."""
    first = ENVIRONMENTS[0]
    for later in ENVIRONMENTS[1:]:
        here = {r.name: r for r in configured(later)}
        both = [r for r in configured(first) if r.name in here and ports.configured_port(r) is not None
                and ports.configured_port(r) == ports.configured_port(here[r.name])]
        if len(both) >= 2:
            return first, later, both[1], both[0]
    pytest.skip("no two releases share the first environment and a later one, each on its own port")


def test_a_port_difference_whose_reference_port_collides_names_the_free_port_not_keep_the_colliding_one(tmp_path):
    first, later, moved, holder = colliding_pair()
    taken, own = ports.configured_port(holder), ports.configured_port(moved)
    releases = fleet_with(tmp_path, first, moved.name, taken)  # the first environment's copy takes holder's port
    found = [p for p in ports.nodeport_drift(releases, ENVIRONMENTS, []) if p.startswith(f"environment {later},")]
    later_moved = next(r for r in configured(later) if r.name == moved.name)
    later_holder = next(r for r in configured(later) if r.name == holder.name)
    assert found == [
        f"environment {later}, release {moved.name} ({later_moved.model_file}): service.nodePort {own} differs from "
        f"{taken} in environment {first} ({moved.model_file}), but {taken} is also {holder.name}'s in environment "
        f"{later} ({later_holder.model_file}), so keeping it would collide; set service.nodePort {own} in "
        f"{moved.model_file} too ({own} is free in environment {first}), or declare the change in "
        f"environments/fleet.yaml portChanges (release: {moved.name}, environment: {later}, nodePort: {own}, "
        f"reason: ...)"], found
    assert f"keep {taken}" not in " ".join(found)


def test_a_port_difference_with_no_port_free_in_both_points_to_the_ports_listing(tmp_path):
    first, later, moved, holder = colliding_pair()
    taken, own = ports.configured_port(holder), ports.configured_port(moved)
    # The first environment's copies swap ports: neither keeping the reference nor moving it back is free.
    swap = {moved.name: taken, holder.name: own}

    def swapped(rel: harness.Release) -> harness.Release:
        if rel.name not in swap:
            return rel
        return edited_release(tmp_path, first, rel.name, lambda values: values["service"].update(nodePort=swap[rel.name]))
    releases = {e: [swapped(r) for r in configured(e)] if e == first else configured(e) for e in ENVIRONMENTS}
    found = [p for p in ports.nodeport_drift(releases, ENVIRONMENTS, [])
             if p.startswith(f"environment {later}, release {moved.name} ")]
    assert len(found) == 1 and found[0].endswith(
        f"so keeping it would collide; give the release a port free in both (`vllm-models ports --env {first}`, "
        f"`vllm-models ports --env {later}`), or declare the change in environments/fleet.yaml portChanges "
        f"(release: {moved.name}, environment: {later}, nodePort: {own}, reason: ...)"), found


def test_a_port_change_declared_with_a_reason_is_accepted(tmp_path):
    releases = fleet_with(tmp_path, "production-jp", "llms-v2-qwen3-32b", 30026)
    change = {"release": "llms-v2-qwen3-32b", "environment": "production-jp", "nodePort": 30026,
              "reason": "30025 is taken by a legacy service on the JP cluster"}
    assert ports.nodeport_drift(releases, ENVIRONMENTS, [change]) == []


def test_a_port_change_without_a_reason_or_without_a_difference_is_reported():
    releases = {env: configured(env) for env in ENVIRONMENTS}
    changes = [{"release": "llms-v2-qwen3-32b", "environment": "production-jp", "nodePort": 30026},
               {"release": "llms-v2-qwen3-32b", "environment": "staging", "nodePort": 30025, "reason": "old"}]
    assert ports.nodeport_drift(releases, ENVIRONMENTS, changes) == [
        "environments/fleet.yaml portChanges[0] lacks reason: a deliberate port change names the release, "
        "the environment, the nodePort it uses there and the reason",
        "environments/fleet.yaml portChanges entry for release llms-v2-qwen3-32b in environment staging "
        "(nodePort 30025) matches no port difference: that release does not use 30025 there or never "
        "differed; remove the entry"]


# --- Names -----------------------------------------------------------------------------------------

def test_a_model_name_that_differs_from_its_file_name_is_reported(tmp_path):
    rel = edited_release(tmp_path, "staging", "llms-v2-qwen3-32b", lambda values: values.update(modelName="qwen3"))
    assert fleet.release_names([rel]) == [
        "environment staging, release llms-v2-qwen3-32b (environments/staging/language/qwen3-32b.yaml): "
        "modelName 'qwen3' must equal the file name 'qwen3-32b'; set modelName: qwen3-32b or rename the file "
        "to qwen3.yaml"]


def test_a_fullname_override_other_than_the_release_name_is_reported(tmp_path):
    rel = edited_release(tmp_path, "staging", "llms-v2-qwen3-32b",
                         lambda values: values.update(fullnameOverride="qwen3-32b"))
    assert fleet.release_names([rel]) == [
        "environment staging, release llms-v2-qwen3-32b (environments/staging/language/qwen3-32b.yaml): "
        "fullnameOverride 'qwen3-32b' must equal the release name 'llms-v2-qwen3-32b'; "
        "set fullnameOverride: llms-v2-qwen3-32b or drop it"]


def test_a_release_not_named_after_its_file_is_reported():
    rel = dataclasses.replace(harness.release("staging", "llms-v2-qwen3-32b"), name="qwen3-32b")
    assert fleet.release_names([rel]) == [
        "environment staging, release qwen3-32b (environments/staging/language/qwen3-32b.yaml): release name "
        "qwen3-32b must be llms-v2-qwen3-32b (from the file name); generate releases from files in "
        "helmfile.yaml.gotmpl",
        "environment staging, release qwen3-32b (environments/staging/language/qwen3-32b.yaml): fullnameOverride "
        "'llms-v2-qwen3-32b' must equal the release name 'qwen3-32b'; set fullnameOverride: qwen3-32b or drop it"]


def test_a_file_name_that_makes_an_uppercase_or_overlong_release_name_is_reported():
    base = harness.release("staging", "llms-v2-qwen3-32b")
    stem = "Qwen3-" + "x" * 60
    source = dataclasses.replace(base.sources[-1], label=f"environments/staging/language/{stem}.yaml",
                                 data={**base.sources[-1].data, "modelName": stem, "fullnameOverride": ""})
    rel = dataclasses.replace(base, name=f"llms-v2-{stem}", sources=(*base.sources[:-1], source))
    assert fleet.release_names([rel]) == [
        f"environment staging, release llms-v2-{stem} (environments/staging/language/{stem}.yaml): "
        f"release name llms-v2-{stem} (74 characters, from the file name) is not a Kubernetes name: "
        f"lowercase letters, digits and '-', at most 63 characters; rename the file to at most 55 such "
        f"characters and set modelName to match"]


def test_two_releases_serving_one_model_name_are_reported(tmp_path):
    twin = edited_release(tmp_path, "staging", "llms-v2-qwen3-32b-lmcache",
                          lambda values: values["deployment"].update(servedModelName="Qwen3-32B"))
    assert fleet.served_model_names([harness.release("staging", "llms-v2-qwen3-32b"), twin]) == [
        "environment staging: deployment.servedModelName 'Qwen3-32B' is served by 2 releases: "
        "llms-v2-qwen3-32b (environments/staging/language/qwen3-32b.yaml), "
        "llms-v2-qwen3-32b-lmcache (environments/staging/language/qwen3-32b-lmcache.yaml); "
        "clients route by this name, so give each release its own deployment.servedModelName"]


def test_a_selector_that_matches_another_releases_pods_is_reported():
    qwen = rendered_release("development", "llms-v2-qwen3-32b")
    greedy = copy_of(rendered_release("development", "llms-v2-gemma-3-27b-it"))
    greedy.one("Service")["spec"]["selector"] = {"app.kubernetes.io/name": "vllm-models"}
    assert fleet.selector_overlaps([qwen, greedy]) == [
        "environment development, release llms-v2-gemma-3-27b-it "
        "(environments/development/vision-language/gemma-3-27b-it.yaml): Service llms-v2-gemma-3-27b-it "
        "selector {app.kubernetes.io/name=vllm-models} also matches the pods of release llms-v2-qwen3-32b "
        "(environments/development/language/qwen3-32b.yaml); every selector must include "
        "app.kubernetes.io/instance and model (vllm-models.selectorLabels in "
        "charts/vllm-models/templates/_helpers.tpl), and each release its own modelName"]


@pytest.mark.parametrize("selector, matches", [
    ({}, True),
    ({"matchLabels": {"model": "qwen3-32b"}}, True),
    ({"matchLabels": {"model": "other"}}, False),
    ({"matchExpressions": [{"key": "model", "operator": "In", "values": ["qwen3-32b", "x"]}]}, True),
    ({"matchExpressions": [{"key": "model", "operator": "NotIn", "values": ["qwen3-32b"]}]}, False),
    ({"matchExpressions": [{"key": "tier", "operator": "Exists"}]}, False),
    ({"matchExpressions": [{"key": "tier", "operator": "DoesNotExist"}]}, True),
])
def test_selectors_match_pod_labels_as_kubernetes_does(selector, matches):
    assert fleet.selector_matches(selector, {"model": "qwen3-32b", "app.kubernetes.io/name": "vllm-models"}) is matches


# --- Files and flags -------------------------------------------------------------------------------

def test_a_values_file_no_release_reads_is_reported_with_the_reason(tmp_path):
    env_dir = tmp_path / "staging"
    for relative in ("values.yaml", "language/qwen3-32b.yaml", "language/notes.yml", "embedding/bge-m3.yaml",
                     "language/old/qwen2.yaml"):
        (env_dir / relative).parent.mkdir(parents=True, exist_ok=True)
        (env_dir / relative).write_text("{}\n")
    assert fleet.unread_files("staging", env_dir, configured("staging"), ["language", "vision-language"]) == [
        "environment staging: environments/staging/embedding/bge-m3.yaml belongs to no release (embedding is not "
        "a category (environments/fleet.yaml categories: language, vision-language)); a model is "
        "environments/staging/<category>/<modelName>.yaml: move or rename it, or delete it",
        "environment staging: environments/staging/language/notes.yml belongs to no release (helmfile reads only "
        "*.yaml); a model is environments/staging/<category>/<modelName>.yaml: move or rename it, or delete it",
        "environment staging: environments/staging/language/old/qwen2.yaml belongs to no release (it is not in a "
        "category folder); a model is environments/staging/<category>/<modelName>.yaml: move or rename it, or "
        "delete it"]


def test_a_release_without_its_model_file_is_reported():
    rel = harness.release("staging", "llms-v2-qwen3-32b")
    orphan = dataclasses.replace(rel, sources=rel.sources[:-1])
    assert fleet.releases_without_file([orphan], toolchain.ROOT) == [
        "environment staging, release llms-v2-qwen3-32b: has no model file environments/staging/language/qwen3-32b.yaml "
        "(its values files: helmfile.yaml.gotmpl (inline values from environments/staging/values.yaml)); releases "
        "come from files: add the file, or remove the release from helmfile.yaml.gotmpl"]


def test_an_enable_flag_naming_a_missing_model_or_category_is_reported():
    values = fleet.environment_values("development")
    values["language"]["models"]["qwen3-33b"] = {"enabled": True}
    values["vision_language"] = values.pop("vision-language")
    language = sorted(r.labels["model"] for r in configured("development") if r.category == "language")
    vision = [r.labels["model"] for r in configured("development") if r.category == "vision-language"]
    assert language and vision, f"environment development: the case needs a language and a vision-language model, " \
                                f"configured: {language}, {vision}"
    assert fleet.enable_flags("development", values, configured("development"), ["language", "vision-language"]) == [
        "environment development: environments/development/values.yaml vision_language is not a category "
        "(environments/fleet.yaml categories: language, vision-language), so its flags enable nothing; rename it",
        "environment development: environments/development/values.yaml language.models.qwen3-33b.enabled names "
        f"no model: there is no environments/development/language/qwen3-33b.yaml (models here: {', '.join(language)}); "
        "fix the name or add the file",
        *(f"environment development: environments/development/vision-language/{model}.yaml has no enable flag, "
          f"so helmfile never installs it; add vision-language.models.{model}.enabled: true (or false to keep "
          f"it configured but off) to environments/development/values.yaml" for model in vision)]


def test_a_model_file_without_an_enable_flag_is_reported():
    values = fleet.environment_values("development")
    del values["language"]["models"]["qwen3-32b"]
    assert fleet.enable_flags("development", values, configured("development"), ["language", "vision-language"]) == [
        "environment development: environments/development/language/qwen3-32b.yaml has no enable flag, so helmfile "
        "never installs it; add language.models.qwen3-32b.enabled: true (or false to keep it configured but off) "
        "to environments/development/values.yaml"]


def test_an_environment_folder_outside_the_promotion_order_is_reported(tmp_path):
    for name in ("staging", "qa"):
        (tmp_path / name).mkdir()
    assert fleet.environment_folders(tmp_path, ["staging"]) == [
        "environments/qa/ is not an environment: environments/fleet.yaml promotionOrder lists staging; "
        "add it there or remove the folder"]


# --- Pod Security Admission ------------------------------------------------------------------------

def enforcing(env: str, level: str) -> harness.Rendered:
    namespace = copy_of(rendered_namespace(env))
    namespace.one("Namespace")["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] = level
    return namespace


def off_hostpath(rendered: harness.Rendered) -> harness.Rendered:
    """The release with its weights on a claim instead of hostPath: what restricted admits."""
    moved = copy_of(rendered)
    for volume in moved.one("Deployment")["spec"]["template"]["spec"]["volumes"]:
        if "hostPath" in volume:
            del volume["hostPath"]
            volume["persistentVolumeClaim"] = {"claimName": "models", "readOnly": True}
    return moved


LEVELS = rules.data()["podSecurity"]["levels"]  # strictest first


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_namespace_enforces_the_level_of_its_most_demanding_release(env):
    needed = [fleet.release_pod_security(r)[0] for r in installed_renders(env)]
    required = max(needed, key=LEVELS.index, default=LEVELS[0])
    labels = rendered_namespace(env).one("Namespace")["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == required, (
        f"environment {env}: Namespace llms enforces {labels['pod-security.kubernetes.io/enforce']}, its releases "
        f"need {dict(zip([r.release.name for r in installed_renders(env)], needed))}")


def test_a_baseline_namespace_is_reported_to_reject_every_hostpath_model():
    renders = installed_renders("development")
    assert renders and all(r.workload().kind == "Deployment" for r in renders), \
        f"environment development: the case needs Deployments on hostPath, has {[r.release.name for r in renders]}"
    assert fleet.pod_security(renders, enforcing("development", "baseline")) == [
        f"{harness.where(r)}: needs Pod Security privileged (Deployment {r.release.name}: hostPath volume models, "
        f"which baseline refuses), and namespace llms enforces baseline (environments/development/values.yaml "
        f"namespace.podSecurity.enforce): the API server would reject its pods; set namespace.podSecurity.enforce: "
        f"privileged, or move the model off hostPath (storage.type existingClaim or pvc)" for r in renders]


def test_a_namespace_more_permissive_than_its_most_demanding_release_is_reported_naming_it_and_its_level():
    renders = [off_hostpath(r) for r in installed_renders("development")]
    problems = fleet.pod_security(renders, enforcing("development", "privileged"))
    first = renders[0].release  # all need restricted: the first release, in helmfile's order, is named
    assert problems == [
        "environment development: namespace llms enforces Pod Security privileged (environments/development/values.yaml "
        "namespace.podSecurity.enforce), more than its releases need: the most demanding release, "
        f"{first.name} ({first.model_file}), needs restricted; set "
        "namespace.podSecurity.enforce: restricted, so pods that need more are refused"]
    assert fleet.pod_security(renders, enforcing("development", "restricted")) == []


def test_one_baseline_release_sets_the_namespace_level_and_is_named_with_what_restricted_refuses():
    renders = [off_hostpath(r) for r in installed_renders("development")]
    root = renders[1]
    root.one("Deployment")["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"] = False
    assert fleet.pod_security(renders, enforcing("development", "baseline")) == []
    too_strict = fleet.pod_security(renders, enforcing("development", "restricted"))
    assert too_strict == [
        f"{harness.where(root)}: needs Pod Security baseline (Deployment {root.release.name}: container vllm "
        f"runAsNonRoot not true, which restricted refuses), and namespace llms enforces restricted "
        f"(environments/development/values.yaml namespace.podSecurity.enforce): the API server would reject its "
        f"pods; set namespace.podSecurity.enforce: baseline"]
    assert fleet.pod_security(renders, enforcing("development", "privileged")) == [
        "environment development: namespace llms enforces Pod Security privileged (environments/development/values.yaml "
        f"namespace.podSecurity.enforce), more than its releases need: the most demanding release, {root.release.name} "
        f"({root.release.model_file}), needs baseline (Deployment {root.release.name}: container vllm runAsNonRoot "
        f"not true, which the next stricter level refuses); set namespace.podSecurity.enforce: baseline, so pods that "
        f"need more are refused"]


def test_a_namespace_without_releases_enforces_restricted():
    assert fleet.pod_security([], enforcing("development", "restricted")) == []
    assert fleet.pod_security([], enforcing("development", "baseline")) == [
        "environment development: namespace llms enforces Pod Security baseline (environments/development/values.yaml "
        "namespace.podSecurity.enforce), more than its releases need: no release is installed; set "
        "namespace.podSecurity.enforce: restricted, so pods that need more are refused"]


def test_the_charts_defaults_need_only_restricted_and_the_helm_test_pod_counts_too():
    rendered = render_chart(example="single-gpu", values={"storage": {"type": "existingClaim", "existingClaim": "m"}})
    assert fleet.release_pod_security(rendered) == ("restricted", [])
    hook = copy_of(rendered)
    next(d for d in hook.documents if d["kind"] == "Pod")["spec"]["containers"][0]["securityContext"].pop(
        "allowPrivilegeEscalation")
    assert fleet.release_pod_security(hook) == (
        "baseline", ["Pod llms-v2-qwen3-32b-test: container list-models allowPrivilegeEscalation not false"])


def test_the_page_cache_drop_needs_privileged():
    rendered = render_chart(example="single-gpu", values={"dropPageCache": {"enabled": True}})
    assert fleet.release_pod_security(rendered) == (
        "privileged", ["Deployment llms-v2-qwen3-32b: hostPath volume models; hostPID: true; container vllm privileged: true"])


def test_baseline_refuses_privilege_host_namespaces_and_extra_capabilities_but_not_the_seeds_drop_all():
    pod = {"hostPID": True, "containers": [
        {"name": "vllm", "securityContext": {"privileged": True, "capabilities": {"add": ["SYS_PTRACE", "CHOWN"]}},
         "ports": [{"containerPort": 8000, "hostPort": 8000}]},
        {"name": "sidecar", "securityContext": {"capabilities": {"drop": ["ALL"]}}}]}
    assert fleet.baseline_violations(pod) == [
        "hostPID: true", "container vllm privileged: true", "container vllm adds capabilities SYS_PTRACE",
        "container vllm hostPort 8000"]


RESTRICTED_POD = {
    "securityContext": {"runAsNonRoot": True, "runAsUser": 2000, "seccompProfile": {"type": "RuntimeDefault"},
                        "sysctls": [{"name": "net.ipv4.tcp_keepalive_time", "value": "60"}]},
    "volumes": [{"name": "models", "persistentVolumeClaim": {"claimName": "m"}}, {"name": "tmp", "emptyDir": {}}],
    "containers": [{"name": "vllm", "securityContext": {
        "allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]},
        "seLinuxOptions": {"type": "container_t"}, "appArmorProfile": {"type": "RuntimeDefault"}}}],
}

# (what one change to the restricted pod does, the level it then needs, what the next stricter level says)
LEVEL_CASES = [
    ("nothing", lambda p: None, "restricted", []),
    ("a hostPath volume", lambda p: p["volumes"].append({"name": "host", "hostPath": {"path": "/x"}}),
     "privileged", ["hostPath volume host"]),
    ("an nfs volume", lambda p: p["volumes"].append({"name": "share", "nfs": {"server": "s", "path": "/"}}),
     "baseline", ["nfs volume share"]),
    ("privilege escalation left unset", lambda p: p["containers"][0]["securityContext"].pop("allowPrivilegeEscalation"),
     "baseline", ["container vllm allowPrivilegeEscalation not false"]),
    ("a container overriding runAsNonRoot", lambda p: p["containers"][0]["securityContext"].update(runAsNonRoot=False),
     "baseline", ["container vllm runAsNonRoot not true"]),
    ("uid 0 on the pod", lambda p: p["securityContext"].update(runAsUser=0), "baseline", ["pod runAsUser 0"]),
    ("uid 0 in a container", lambda p: p["containers"][0]["securityContext"].update(runAsUser=0),
     "baseline", ["container vllm runAsUser 0"]),
    ("no seccomp profile", lambda p: p["securityContext"].pop("seccompProfile"),
     "baseline", ["container vllm seccompProfile unset"]),
    ("capabilities kept", lambda p: p["containers"][0]["securityContext"]["capabilities"].update(drop=[]),
     "baseline", ["container vllm does not drop ALL capabilities"]),
    ("a baseline capability added", lambda p: p["containers"][0]["securityContext"]["capabilities"].update(add=["CHOWN"]),
     "baseline", ["container vllm adds capabilities CHOWN"]),
    ("IPC_LOCK for RDMA", lambda p: p["containers"][0]["securityContext"]["capabilities"].update(add=["IPC_LOCK"]),
     "privileged", ["container vllm adds capabilities IPC_LOCK"]),
    ("host network", lambda p: p.update(hostNetwork=True), "privileged", ["hostNetwork: true"]),
    ("seccomp Unconfined", lambda p: p["securityContext"].update(seccompProfile={"type": "Unconfined"}),
     "privileged", ["pod seccompProfile Unconfined"]),
    ("AppArmor Unconfined", lambda p: p["containers"][0]["securityContext"].update(appArmorProfile={"type": "Unconfined"}),
     "privileged", ["container vllm appArmorProfile Unconfined"]),
    ("an SELinux type outside the list", lambda p: p["containers"][0]["securityContext"].update(
        seLinuxOptions={"type": "spc_t"}), "privileged", ["container vllm seLinuxOptions.type spc_t"]),
    ("an SELinux user", lambda p: p["containers"][0]["securityContext"].update(seLinuxOptions={"user": "system_u"}),
     "privileged", ["container vllm seLinuxOptions.user system_u"]),
    ("an unmasked /proc", lambda p: p["containers"][0]["securityContext"].update(procMount="Unmasked"),
     "privileged", ["container vllm procMount Unmasked"]),
    ("an unsafe sysctl", lambda p: p["securityContext"]["sysctls"].append({"name": "kernel.msgmax", "value": "1"}),
     "privileged", ["sysctl kernel.msgmax"]),
    ("a probe aimed at another host", lambda p: p["containers"][0].update(
        livenessProbe={"httpGet": {"host": "10.0.0.1", "port": 80}}), "privileged",
     ["container vllm probe or lifecycle host 10.0.0.1"]),
]


@pytest.mark.parametrize("change, function, level, reasons", LEVEL_CASES, ids=[c[0] for c in LEVEL_CASES])
def test_the_least_pod_security_level_of_a_pod_follows_each_check(change, function, level, reasons):
    pod = copy.deepcopy(RESTRICTED_POD)
    function(pod)
    assert fleet.pod_security_level(pod) == (level, reasons), f"restricted pod with {change}"


# --- Promotion -------------------------------------------------------------------------------------

def test_a_production_model_that_staging_does_not_configure_is_reported():
    releases = {env: configured(env) for env in ENVIRONMENTS}
    releases["staging"] = [r for r in releases["staging"] if r.name != "llms-v2-qwen3-coder-480b"]
    assert fleet.promotion(releases, ENVIRONMENTS) == [
        f"environment {env}, release llms-v2-qwen3-coder-480b (environments/{env}/language/qwen3-coder-480b.yaml): "
        f"enabled in {env} (environments/{env}/values.yaml language.models.qwen3-coder-480b.enabled) but not "
        f"configured in staging: there is no environments/staging/language/qwen3-coder-480b.yaml; add it to "
        f"staging first (promotion order development -> staging -> production-vn -> production-jp) or disable it here"
        for env in ("production-vn", "production-jp")]


def promoted(tmp_path, production_tag: str, staging_tag: str) -> dict[str, list[harness.Release]]:
    def retag(env, tag):
        return edited_release(tmp_path / env, env, "llms-v2-qwen3-32b", lambda values: values["image"].update(tag=tag))
    (tmp_path / "staging").mkdir()
    (tmp_path / "production-vn").mkdir()
    return {"staging": [retag("staging", staging_tag)], "production-vn": [retag("production-vn", production_tag)]}


def test_a_production_image_newer_than_stagings_is_reported(tmp_path):
    assert fleet.promotion(promoted(tmp_path, "v0.12.0", "v0.11.0"), ["staging", "production-vn"]) == [
        "environment production-vn, release llms-v2-qwen3-32b (environments/production-vn/language/qwen3-32b.yaml): "
        "image tag v0.12.0 (environments/production-vn/language/qwen3-32b.yaml image.tag) is newer than staging's "
        "v0.11.0 (environments/staging/language/qwen3-32b.yaml image.tag); production runs only what staging has "
        "run: set staging to v0.12.0 first, or keep v0.11.0 here"]


@pytest.mark.parametrize("production, staging", [("v0.9.2", "v0.10.2"), ("v0.11.0rc1", "v0.11.0"), ("v0.11.0", "v0.11.0")])
def test_image_tags_compare_as_versions_not_strings(tmp_path, production, staging):
    assert fleet.promotion(promoted(tmp_path, production, staging), ["staging", "production-vn"]) == []


def test_an_image_tag_that_is_not_a_version_is_reported(tmp_path):
    assert fleet.promotion(promoted(tmp_path, "latest", "v0.11.0"), ["staging", "production-vn"]) == [
        "environment production-vn, release llms-v2-qwen3-32b (environments/production-vn/language/qwen3-32b.yaml): "
        "image tag 'latest' (environments/production-vn/language/qwen3-32b.yaml image.tag) is not a version, so "
        "promotion cannot compare it; pin a vLLM release such as v0.11.0"]


def test_a_tag_inherited_from_the_environment_is_reported_at_global_image_tag(tmp_path):
    releases = promoted(tmp_path, "v0.12.0", "v0.11.0")
    production = releases["production-vn"][0]
    model = production.sources[-1]
    data = {k: v for k, v in model.data.items() if k != "image"}
    inline = dataclasses.replace(production.sources[0], data={**production.sources[0].data,
                                                               "global": {"image": {"tag": "v0.12.0"}}})
    releases["production-vn"] = [dataclasses.replace(production, sources=(inline, dataclasses.replace(model, data=data)))]
    assert harness.origin(releases["production-vn"][0], "image.tag") == "environments/production-vn/values.yaml global.image.tag"
    assert "(environments/production-vn/values.yaml global.image.tag) is newer than staging's v0.11.0" in \
        fleet.promotion(releases, ["staging", "production-vn"])[0]


def test_a_priority_class_the_namespace_release_does_not_create_is_reported(tmp_path):
    rel = edited_release(tmp_path, "staging", "llms-v2-qwen3-32b",
                         lambda values: values.update(priorityClassName="gpu-urgent"))
    assert fleet.priority_classes([render_chart(release=rel)], rendered_namespace("staging")) == [
        "environment staging, release llms-v2-qwen3-32b (environments/staging/language/qwen3-32b.yaml): "
        "Deployment llms-v2-qwen3-32b uses PriorityClass gpu-urgent (environments/staging/language/qwen3-32b.yaml "
        "priorityClassName), which the llms-namespace release does not create (it creates gpu-critical, gpu-high, "
        "gpu-normal): the API server would refuse its pods; use one of those or add it to "
        "environments/staging/values.yaml namespace.priorityClasses"]


def test_a_priority_class_inherited_from_the_environment_is_reported_at_global_priority_class_name():
    namespace = copy_of(rendered_namespace("staging"))
    namespace.documents = [d for d in namespace.documents if d["metadata"]["name"] != "gpu-high"]
    problems = fleet.priority_classes([rendered_release("staging", "llms-v2-qwen3-32b")], namespace)
    assert problems == [
        "environment staging, release llms-v2-qwen3-32b (environments/staging/language/qwen3-32b.yaml): "
        "Deployment llms-v2-qwen3-32b uses PriorityClass gpu-high (environments/staging/values.yaml "
        "global.priorityClassName), which the llms-namespace release does not create (it creates gpu-critical, "
        "gpu-normal): the API server would refuse its pods; use one of those or add it to "
        "environments/staging/values.yaml namespace.priorityClasses"]


def test_a_staging_tag_that_is_not_a_version_is_reported_once_for_all_production_environments(tmp_path):
    releases = promoted(tmp_path, "v0.11.0", "latest")
    releases["production-jp"] = [dataclasses.replace(releases["production-vn"][0], environment="production-jp")]
    assert fleet.promotion(releases, ["staging", "production-vn", "production-jp"]) == [
        "environment staging, release llms-v2-qwen3-32b (environments/staging/language/qwen3-32b.yaml): image tag "
        "'latest' (environments/staging/language/qwen3-32b.yaml image.tag) is not a version, so promotion cannot "
        "compare it; pin a vLLM release such as v0.11.0"]


# --- Model delivery: production downloads a Hugging Face model only at a commit ----------------------

COMMIT = "0123456789abcdef0123456789abcdef01234567"


def downloading(tmp_path, env: str, revision, *, source: str = "huggingface", enabled: bool = True) -> harness.Release:
    """qwen3-32b of `env` with its model file fetching the weights from `source` at `revision` (None: unset)."""
    hf = {"repo": "Qwen/Qwen3-32B-FP8"} | ({} if revision is None else {"revision": revision})
    download = {"enabled": enabled, "source": source, "huggingface": hf,
                "s3": {"uri": "s3://models/Qwen3-32B-FP8", "credentialsSecret": {"name": "store"}}}
    (tmp_path / env).mkdir(exist_ok=True)
    return edited_release(tmp_path / env, env, "llms-v2-qwen3-32b",
                          lambda values: values.setdefault("storage", {}).update(download=download))


@pytest.mark.parametrize("revision", [COMMIT], ids=["commit"])
def test_a_production_download_at_a_commit_passes(tmp_path, revision):
    assert fleet.pinned_revisions([downloading(tmp_path, "production-vn", revision)]) == []


@pytest.mark.parametrize("revision, shown", [
    ("main", "'main', not a commit"),
    (COMMIT[:39], f"'{COMMIT[:39]}', not a commit"),  # one character short of a commit id
    (COMMIT + "0", f"'{COMMIT}0', not a commit"),  # one past
    (COMMIT.upper(), f"'{COMMIT.upper()}', not a commit"),  # the Hub's ids are lowercase
    (None, "unset, so the Hub's moving main"),
], ids=["branch", "39-hex", "41-hex", "uppercase", "unset"])
def test_a_production_download_at_a_branch_or_no_revision_is_reported_naming_file_key_and_fix(tmp_path, revision, shown):
    rel = downloading(tmp_path, "production-vn", revision)
    assert fleet.pinned_revisions([rel]) == [
        f"environment production-vn, release llms-v2-qwen3-32b (environments/production-vn/language/qwen3-32b.yaml): "
        f"storage.download.huggingface.revision is {shown}; a production environment downloads Qwen/Qwen3-32B-FP8 "
        f"only at a commit (40 hexadecimal characters) so it serves what staging tested: set "
        f"storage.download.huggingface.revision in environments/production-vn/language/qwen3-32b.yaml to the commit "
        f"id (the Hub's \"Files and versions\" history)"]


@pytest.mark.parametrize("env, source, enabled", [
    ("staging", "huggingface", True),  # not production: a branch is fine while testing
    ("production-vn", "s3", True),  # S3 has no revisions to pin
    ("production-vn", "huggingface", False),  # nothing is downloaded
], ids=["staging", "s3-source", "download-off"])
def test_a_branch_outside_a_production_hugging_face_download_passes(tmp_path, env, source, enabled):
    assert fleet.pinned_revisions([downloading(tmp_path, env, "main", source=source, enabled=enabled)]) == []


# --- LoRA adapters: one /v1/models per environment, adapters of the served model, pinned downloads -----

def with_adapters(tmp_path, env: str, name: str, *adapters: dict, folder: str = "") -> harness.Release:
    """Release `name` of `env` with its model file serving `adapters` (lora.enabled)."""
    (tmp_path / (folder or f"{env}-{name}")).mkdir(exist_ok=True)
    return edited_release(tmp_path / (folder or f"{env}-{name}"), env, name,
                          lambda values: values.update(lora={"enabled": True, "adapters": list(adapters)}))


def adapter(name: str, base: str | None = None, **more) -> dict:
    return {"name": name, "path": f"/models/adapters/{name}", "rank": 8} | ({"baseModel": base} if base else {}) | more


def served_name(env: str, name: str) -> str:
    return harness.lookup(harness.release(env, name).values(), "deployment.servedModelName")


def test_adapters_with_names_of_their_own_pass(tmp_path):
    rel = with_adapters(tmp_path, "staging", "llms-v2-qwen3-32b", adapter("qwen-sql"), adapter("qwen-support"))
    assert fleet.adapter_names([rel, *[r for r in harness.model_releases("staging") if r.name != rel.name]]) == []


def test_an_adapter_named_as_another_releases_served_model_is_reported_naming_both_keys(tmp_path):
    other = next(r for r in harness.model_releases("staging") if r.name != "llms-v2-qwen3-32b")
    taken = served_name("staging", other.name)
    rel = with_adapters(tmp_path, "staging", "llms-v2-qwen3-32b", adapter(taken))
    assert fleet.adapter_names([rel, other]) == [
        f"environment staging: model name {taken!r} is lora.adapters[0].name of llms-v2-qwen3-32b "
        f"(environments/staging/language/qwen3-32b.yaml), deployment.servedModelName of {other.name} "
        f"({other.model_file}); clients pick a model or adapter by this name in one "
        f"/v1/models list, so rename the adapter (lora.adapters[].name) to a name no release of staging serves"]


def test_one_adapter_name_in_two_releases_of_an_environment_is_reported(tmp_path):
    others = [r for r in harness.model_releases("staging") if r.name != "llms-v2-qwen3-32b"]
    first = with_adapters(tmp_path, "staging", "llms-v2-qwen3-32b", adapter("sql"))
    second = with_adapters(tmp_path, "staging", others[0].name, adapter("sql"))
    [problem] = fleet.adapter_names([first, second])
    assert problem.startswith("environment staging: model name 'sql' is lora.adapters[0].name of llms-v2-qwen3-32b "), problem


def test_the_same_adapter_name_in_two_environments_passes(tmp_path):
    staging = with_adapters(tmp_path, "staging", "llms-v2-qwen3-32b", adapter("sql"))
    development = with_adapters(tmp_path, "development", "llms-v2-qwen3-32b", adapter("sql"))
    assert fleet.adapter_names([staging, development]) == []


def test_adapters_of_a_release_with_lora_off_are_not_served_so_not_counted(tmp_path):
    other = next(r for r in harness.model_releases("staging") if r.name != "llms-v2-qwen3-32b")
    rel = with_adapters(tmp_path, "staging", "llms-v2-qwen3-32b", adapter(served_name("staging", other.name)))
    off = dataclasses.replace(rel, sources=(*rel.sources[:-1], dataclasses.replace(
        rel.sources[-1], data={**rel.sources[-1].data, "lora": {**rel.sources[-1].data["lora"], "enabled": False}})))
    assert fleet.adapter_names([off, other]) == []


def checkpoint_of(env: str, name: str) -> str:
    return fleet.release_checkpoint(harness.release(env, name).values())


@pytest.mark.parametrize("base", [
    lambda c: c,  # the checkpoint itself
    lambda c: c.upper(),  # case aside
    lambda c: "other-org/" + c.rsplit("/", 1)[-1],  # a copy under another organisation
    lambda c: c.rsplit("/", 1)[0] + "/" + fleet.base_name(c),  # the original a quantized checkpoint was made from
], ids=["same", "case", "organisation", "original-of-quantized"])
def test_an_adapter_of_the_served_checkpoint_passes(tmp_path, base):
    checkpoint = checkpoint_of("staging", "llms-v2-qwen3-32b")
    rel = with_adapters(tmp_path, "staging", "llms-v2-qwen3-32b", adapter("sql", base(checkpoint)))
    assert fleet.adapter_base_models([rel]) == []


def test_a_quantized_suffix_counts_as_its_original_for_every_listed_suffix():
    for suffix in rules.data()["lora"]["quantizedSuffixes"]:
        assert fleet.base_name(f"org/Model-7B{suffix}") == "model-7b", suffix


def test_an_adapter_of_another_model_is_reported_naming_file_key_and_fix(tmp_path):
    checkpoint = checkpoint_of("staging", "llms-v2-qwen3-32b")
    rel = with_adapters(tmp_path, "staging", "llms-v2-qwen3-32b", adapter("sql", "meta-llama/Llama-3.1-8B-Instruct"))
    assert fleet.adapter_base_models([rel]) == [
        f"environment staging, release llms-v2-qwen3-32b (environments/staging/language/qwen3-32b.yaml): "
        f"lora.adapters[0].baseModel is meta-llama/Llama-3.1-8B-Instruct, but the release serves {checkpoint} "
        f"(modelInfo.checkpoint, else deployment.model); adapter sql was trained on another model: serve it from a "
        f"release of meta-llama/Llama-3.1-8B-Instruct, or give lora.adapters[0] an adapter trained on {checkpoint} "
        f"(rules.yaml lora.quantizedSuffixes counts a quantized copy as its original)"]


def test_an_adapter_one_size_off_the_served_model_is_another_model(tmp_path):
    checkpoint = checkpoint_of("staging", "llms-v2-qwen3-32b")
    rel = with_adapters(tmp_path, "staging", "llms-v2-qwen3-32b", adapter("sql", checkpoint.replace("32B", "14B")))
    assert len(fleet.adapter_base_models([rel])) == 1


def hf_adapter(revision) -> dict:
    return adapter("sql", source="huggingface", huggingface={"repo": "org/qwen3-sql"} | (
        {} if revision is None else {"revision": revision}))


def test_a_production_adapter_from_the_hub_at_a_commit_passes(tmp_path):
    rel = downloading(tmp_path, "production-vn", COMMIT)
    rel = dataclasses.replace(rel, sources=(*rel.sources[:-1], dataclasses.replace(
        rel.sources[-1], data={**rel.sources[-1].data, "lora": {"enabled": True, "adapters": [hf_adapter(COMMIT)]}})))
    assert fleet.pinned_revisions([rel]) == []


@pytest.mark.parametrize("revision, shown", [("main", "'main', not a commit"), (None, "unset, so the Hub's moving main"),
                                             (COMMIT[:39], f"'{COMMIT[:39]}', not a commit")],
                         ids=["branch", "unset", "39-hex"])
def test_a_production_adapter_from_the_hub_at_a_branch_is_reported_naming_its_key(tmp_path, revision, shown):
    rel = downloading(tmp_path, "production-vn", COMMIT)
    rel = dataclasses.replace(rel, sources=(*rel.sources[:-1], dataclasses.replace(
        rel.sources[-1], data={**rel.sources[-1].data, "lora": {"enabled": True, "adapters": [hf_adapter(revision)]}})))
    assert fleet.pinned_revisions([rel]) == [
        f"environment production-vn, release llms-v2-qwen3-32b (environments/production-vn/language/qwen3-32b.yaml): "
        f"lora.adapters[0].huggingface.revision is {shown}; a production environment downloads org/qwen3-sql only at "
        f"a commit (40 hexadecimal characters) so it serves what staging tested: set "
        f"lora.adapters[0].huggingface.revision in environments/production-vn/language/qwen3-32b.yaml to the commit "
        f"id (the Hub's \"Files and versions\" history)"]
