"""Fleet-wide rules: what no single release can see (names, files, flags, admission, delivery, promotion).

Each rule takes releases or renders and returns readable problems, each naming the environment,
the file, the values key and the fix; `check_fleet()` runs them all on the repository. The tests
assert none on the real fleet and assert the message of each on a broken fixture.
"""
from __future__ import annotations

import collections
import re
from pathlib import Path
from typing import Iterable, Mapping, Sequence

from . import capacity, fit, ports, rules, toolchain
from . import render as harness
from .render import RELEASE_PREFIX, at, environment_file, model_releases, namespace_release, origin, where

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


# --- Names ---------------------------------------------------------------------------------------

def release_names(releases: Iterable[harness.Release]) -> list[str]:
    """`llms-v2-<modelName>`, a lowercase DNS label of at most 63 characters, modelName == file name."""
    problems = []
    for rel in releases:
        stem = Path(rel.model_file).stem if rel.model_file else ""
        values = rel.values()
        if not DNS_LABEL.match(rel.name) or len(rel.name) > 63:
            problems.append(
                f"{at(rel)}: release name {rel.name} ({len(rel.name)} characters, from the file name) is not a "
                f"Kubernetes name: lowercase letters, digits and '-', at most 63 characters; rename the file to "
                f"at most {63 - len(RELEASE_PREFIX)} such characters and set modelName to match")
        if stem and rel.name != RELEASE_PREFIX + stem:
            problems.append(f"{at(rel)}: release name {rel.name} must be {RELEASE_PREFIX}{stem} "
                            f"(from the file name); generate releases from files in helmfile.yaml.gotmpl")
        model_name = values.get("modelName")
        if stem and model_name != stem:
            problems.append(f"{at(rel)}: modelName {model_name!r} must equal the file name {stem!r}; "
                            f"set modelName: {stem} or rename the file to {model_name}.yaml")
        override = values.get("fullnameOverride")
        if override and override != rel.name:
            problems.append(f"{at(rel)}: fullnameOverride {override!r} must equal the release name {rel.name!r}; "
                            f"set fullnameOverride: {rel.name} or drop it")
    return problems


def served_model_names(releases: Iterable[harness.Release]) -> list[str]:
    """Clients route by the served model name: two installed releases of one environment cannot share one."""
    owners: dict[tuple[str, str], list[harness.Release]] = collections.defaultdict(list)
    for rel in releases:
        name = harness.lookup(rel.values(), "deployment.servedModelName")
        if name:
            owners[(rel.environment, name)].append(rel)
    problems = []
    for (env, name), holders in sorted(owners.items()):
        if len(holders) > 1:
            files = ", ".join(f"{r.name} ({r.model_file})" for r in holders)
            problems.append(f"environment {env}: deployment.servedModelName {name!r} is served by {len(holders)} "
                            f"releases: {files}; clients route by this name, so give each release its own "
                            f"deployment.servedModelName")
    return problems


def owned_selectors(rendered: harness.Rendered) -> list[tuple[str, str, dict]]:
    """(kind, name, selector) of every object that selects the release's own pods."""
    found = []
    for doc in rendered.documents:
        kind, spec = doc.get("kind"), doc.get("spec") or {}
        name = doc.get("metadata", {}).get("name", "")
        if kind in ("Deployment", "PodDisruptionBudget") and "selector" in spec:
            found.append((kind, name, spec["selector"] or {}))
        elif kind == "LeaderWorkerSet":  # its StatefulSets select the pods by the set's name label
            found.append((kind, name, {"matchLabels": {harness.LWS_NAME_LABEL: name}}))
        elif kind == "Service" and spec.get("selector"):
            found.append((kind, name, {"matchLabels": spec["selector"]}))
        elif kind == "NetworkPolicy" and "podSelector" in spec:
            found.append((kind, name, spec["podSelector"] or {}))
    return found


def pod_labels(rendered: harness.Rendered) -> list[dict]:
    """The labels every kind of pod of the release carries as it runs (a group's leader and workers included)."""
    return [pod.labels for workload in rendered.workloads() for pod in workload.templates]


def selector_matches(selector: Mapping, labels: Mapping) -> bool:
    """Kubernetes label-selector semantics (matchLabels and matchExpressions; an empty selector matches all)."""
    if any(labels.get(key) != value for key, value in (selector.get("matchLabels") or {}).items()):
        return False
    for expression in selector.get("matchExpressions") or []:
        key, operator, values = expression["key"], expression["operator"], expression.get("values") or []
        present = key in labels
        if operator == "In" and not (present and labels[key] in values):
            return False
        if operator == "NotIn" and present and labels[key] in values:
            return False
        if operator == "Exists" and not present:
            return False
        if operator == "DoesNotExist" and present:
            return False
    return True


def selector_overlaps(renders: Sequence[harness.Rendered]) -> list[str]:
    """No release's Deployment, Service, PDB or NetworkPolicy selects another release's pods."""
    problems = []
    selectors = {id(r): owned_selectors(r) for r in renders}  # every pair is compared: read each release once
    labels_of = {id(r): pod_labels(r) for r in renders}
    for owner in renders:
        for other in renders:
            if other is owner or (other.release.environment, other.release.namespace) != (
                    owner.release.environment, owner.release.namespace):
                continue
            for kind, name, selector in selectors[id(owner)]:
                if any(selector_matches(selector, labels) for labels in labels_of[id(other)]):
                    problems.append(
                        f"{where(owner)}: {kind} {name} selector {selector_text(selector)} also matches the pods of "
                        f"release {other.release.name} ({other.release.model_file}); every selector must include "
                        f"app.kubernetes.io/instance and model (vllm-models.selectorLabels in "
                        f"charts/vllm-models/templates/_helpers.tpl), and each release its own modelName")
    return problems


def selector_text(selector: Mapping) -> str:
    parts = [f"{k}={v}" for k, v in (selector.get("matchLabels") or {}).items()]
    parts += [f"{e['key']} {e['operator']} {e.get('values') or ''}".strip()
              for e in selector.get("matchExpressions") or []]
    return "{" + ", ".join(parts) + "}"


# --- Files and flags -----------------------------------------------------------------------------

def environment_folders(root: Path, environments: Sequence[str]) -> list[str]:
    """Folders under environments/ that promotionOrder does not list are never deployed."""
    problems = []
    for path in sorted(p for p in root.iterdir() if p.is_dir()):
        if path.name not in environments:
            problems.append(f"environments/{path.name}/ is not an environment: environments/fleet.yaml "
                            f"promotionOrder lists {', '.join(environments)}; add it there or remove the folder")
    return problems


def unread_files(env: str, env_dir: Path, releases: Iterable[harness.Release], categories: Sequence[str]) -> list[str]:
    """Every YAML file of an environment is its values.yaml or some release's model file."""
    owned = {rel.model_file for rel in releases}
    problems = []
    for path in sorted(p for p in env_dir.rglob("*") if p.is_file() and p.suffix in (".yaml", ".yml")):
        relative = path.relative_to(env_dir)
        label = f"environments/{env}/{relative.as_posix()}"
        if relative.as_posix() == "values.yaml" or label in owned:
            continue
        if len(relative.parts) != 2 or relative.parts[0] not in categories:
            reason = (f"{relative.parts[0]} is not a category (environments/fleet.yaml categories: "
                      f"{', '.join(categories)})" if len(relative.parts) == 2 else "it is not in a category folder")
        elif path.suffix != ".yaml":
            reason = "helmfile reads only *.yaml"
        else:
            reason = "helmfile.yaml.gotmpl defines no release for it"
        problems.append(f"environment {env}: {label} belongs to no release ({reason}); a model is "
                        f"environments/{env}/<category>/<modelName>.yaml: move or rename it, or delete it")
    return problems


def releases_without_file(releases: Iterable[harness.Release], root: Path) -> list[str]:
    """Every model release is generated from its own file environments/<env>/<category>/<model>.yaml."""
    problems = []
    for rel in releases:
        model = rel.labels.get("model") or rel.name.removeprefix(RELEASE_PREFIX)
        expected = f"environments/{rel.environment}/{rel.category}/{model}.yaml"
        if rel.model_file != expected or not (root / expected).is_file():
            problems.append(f"environment {rel.environment}, release {rel.name}: has no model file {expected} "
                            f"(its values files: {', '.join(s.label for s in rel.sources) or 'none'}); releases come "
                            f"from files: add the file, or remove the release from helmfile.yaml.gotmpl")
    return problems


def enable_flags(env: str, values: Mapping, releases: Iterable[harness.Release],
                 categories: Sequence[str]) -> list[str]:
    """Enable flags name only categories and models that have a file, and every model file has a flag."""
    models = collections.defaultdict(set)
    for rel in releases:
        models[rel.category].add(rel.labels.get("model", ""))
    problems = []
    file = environment_file(env)
    for key, block in values.items():
        if key not in categories and isinstance(block, Mapping) and ("models" in block or "enabled" in block):
            problems.append(f"environment {env}: {file} {key} is not a category (environments/fleet.yaml "
                            f"categories: {', '.join(categories)}), so its flags enable nothing; rename it")
    for category in categories:
        for model in (values.get(category) or {}).get("models") or {}:
            if model not in models[category]:
                present = ", ".join(sorted(models[category])) or "none"
                problems.append(f"environment {env}: {file} {category}.models.{model}.enabled names no model: there "
                                f"is no environments/{env}/{category}/{model}.yaml (models here: {present}); "
                                f"fix the name or add the file")
    for rel in releases:
        model = rel.labels.get("model", "")
        flags = ((values.get(rel.category) or {}).get("models") or {}).get(model)
        if not isinstance(flags, Mapping) or "enabled" not in flags:
            problems.append(f"environment {env}: {rel.model_file} has no enable flag, so helmfile never installs it; "
                            f"add {rel.category}.models.{model}.enabled: true (or false to keep it configured "
                            f"but off) to {file}")
    return problems


# --- Admission: Pod Security and PriorityClasses ------------------------------------------------

def _pss() -> Mapping:
    return rules.data()["podSecurity"]


def all_containers(pod_spec: Mapping) -> list[Mapping]:
    return [*(pod_spec.get("initContainers") or []), *(pod_spec.get("containers") or []),
            *(pod_spec.get("ephemeralContainers") or [])]


def _context(container: Mapping) -> Mapping:
    return container.get("securityContext") or {}


def _handlers(container: Mapping) -> list[Mapping]:
    """The probe and lifecycle handlers of a container, whose `host` field baseline refuses (Kubernetes 1.34+)."""
    found = [container.get(probe) or {} for probe in ("livenessProbe", "readinessProbe", "startupProbe")]
    found += [handler or {} for handler in (container.get("lifecycle") or {}).values()]
    return [action for handler in found for action in (handler.get("httpGet"), handler.get("tcpSocket")) if action]


def baseline_violations(pod_spec: Mapping) -> list[str]:
    """What Pod Security `baseline` refuses in a pod (rules.yaml podSecurity.baseline)."""
    data = _pss()["baseline"]
    found = [f"hostPath volume {v['name']}" for v in pod_spec.get("volumes") or [] if "hostPath" in v]
    found += [f"{field}: true" for field in ("hostNetwork", "hostPID", "hostIPC") if pod_spec.get(field)]
    pod_context = pod_spec.get("securityContext") or {}
    contexts = [("pod", pod_context)] + [(f"container {c['name']}", _context(c)) for c in all_containers(pod_spec)]
    for owner, context in contexts:
        for field in ("seccompProfile", "appArmorProfile"):
            kind = (context.get(field) or {}).get("type")
            if kind and kind not in data["profileTypes"]:
                found.append(f"{owner} {field} {kind}")
        selinux = context.get("seLinuxOptions") or {}
        if selinux.get("type") and selinux["type"] not in data["seLinuxTypes"]:
            found.append(f"{owner} seLinuxOptions.type {selinux['type']}")
        found += [f"{owner} seLinuxOptions.{field} {selinux[field]}" for field in ("user", "role") if selinux.get(field)]
        if (context.get("windowsOptions") or {}).get("hostProcess"):
            found.append(f"{owner} windowsOptions.hostProcess: true")
    for container in all_containers(pod_spec):
        context, name = _context(container), container["name"]
        if context.get("privileged"):
            found.append(f"container {name} privileged: true")
        extra = sorted(set((context.get("capabilities") or {}).get("add") or []) - set(data["capabilities"]))
        if extra:
            found.append(f"container {name} adds capabilities {', '.join(extra)}")
        found += [f"container {name} hostPort {p['hostPort']}" for p in container.get("ports") or [] if p.get("hostPort")]
        if context.get("procMount", "Default") != "Default":
            found.append(f"container {name} procMount {context['procMount']}")
        found += [f"container {name} probe or lifecycle host {action['host']}" for action in _handlers(container)
                  if action.get("host")]
    found += [f"sysctl {s['name']}" for s in pod_context.get("sysctls") or [] if s["name"] not in data["sysctls"]]
    return found


def restricted_violations(pod_spec: Mapping) -> list[str]:
    """What Pod Security `restricted` refuses beyond baseline (rules.yaml podSecurity.restricted)."""
    data = _pss()["restricted"]
    found = [f"{next(k for k in v if k != 'name')} volume {v['name']}" for v in pod_spec.get("volumes") or []
             if not set(v) - {"name"} <= set(data["volumeTypes"])]
    pod_context = pod_spec.get("securityContext") or {}
    if pod_context.get("runAsUser") == 0:
        found.append("pod runAsUser 0")
    for container in all_containers(pod_spec):
        context, name = _context(container), container["name"]
        if context.get("allowPrivilegeEscalation") is not False:
            found.append(f"container {name} allowPrivilegeEscalation not false")
        if context.get("runAsNonRoot", pod_context.get("runAsNonRoot")) is not True:
            found.append(f"container {name} runAsNonRoot not true")
        if context.get("runAsUser") == 0:
            found.append(f"container {name} runAsUser 0")
        profile = (context.get("seccompProfile") or pod_context.get("seccompProfile") or {}).get("type")
        if profile not in _pss()["baseline"]["profileTypes"]:
            found.append(f"container {name} seccompProfile {profile or 'unset'}")
        capabilities = context.get("capabilities") or {}
        if "ALL" not in (capabilities.get("drop") or []):
            found.append(f"container {name} does not drop ALL capabilities")
        extra = sorted(set(capabilities.get("add") or []) - set(data["addCapabilities"]))
        if extra:
            found.append(f"container {name} adds capabilities {', '.join(extra)}")
    return found


def pod_security_level(pod_spec: Mapping) -> tuple[str, list[str]]:
    """The strictest Pod Security level that admits the pod, and what the next stricter level refuses in it."""
    restricted, baseline, privileged = _pss()["levels"]
    refused_by_baseline = baseline_violations(pod_spec)
    if refused_by_baseline:
        return privileged, refused_by_baseline
    refused_by_restricted = restricted_violations(pod_spec)
    return (baseline, refused_by_restricted) if refused_by_restricted else (restricted, [])


def pod_specs(node) -> list[Mapping]:
    """Every pod spec inside a manifest (a Pod, a Deployment's template, a LeaderWorkerSet's templates, ...)."""
    if isinstance(node, Mapping):
        if isinstance(node.get("containers"), list):
            return [node]
        return [spec for value in node.values() for spec in pod_specs(value)]
    if isinstance(node, list):
        return [spec for item in node for spec in pod_specs(item)]
    return []


def release_pod_security(rendered: harness.Rendered) -> tuple[str, list[str]]:
    """The least Pod Security level every pod of the release (hooks included) is admitted under, and why not stricter."""
    levels = _pss()["levels"]
    level, reasons = levels[0], []
    for doc in rendered.documents:
        for spec in pod_specs(doc.get("spec") or {}):
            found, why = pod_security_level(spec)
            subject = f"{doc['kind']} {doc['metadata']['name']}"
            if levels.index(found) > levels.index(level):
                level, reasons = found, [f"{subject}: {'; '.join(why)}"]
            elif found == level and why:
                reasons.append(f"{subject}: {'; '.join(why)}")
    return level, reasons


def pod_security(renders: Sequence[harness.Rendered], namespace: harness.Rendered) -> list[str]:
    """The namespace enforces exactly the Pod Security level of its most demanding release.

    Lower, and the API server refuses that release's pods; higher than any release needs, and the
    namespace admits pods nothing requires (restricted when no release needs more).
    """
    env = namespace.release.environment
    levels = _pss()["levels"]
    ns = namespace.one("Namespace")["metadata"]
    enforced = ns.get("labels", {}).get("pod-security.kubernetes.io/enforce", levels[-1])
    key = f"{environment_file(env)} namespace.podSecurity.enforce"
    needs = [(rendered, *release_pod_security(rendered)) for rendered in renders]
    problems = []
    for rendered, level, reasons in needs:
        if levels.index(level) > levels.index(enforced):
            hint = (", or move the model off hostPath (storage.type existingClaim or pvc)"
                    if any("hostPath volume" in reason for reason in reasons) else "")
            problems.append(
                f"{where(rendered)}: needs Pod Security {level} ({'; '.join(reasons)}, which {enforced} refuses), "
                f"and namespace {ns['name']} enforces {enforced} ({key}): the API server would reject its pods; "
                f"set namespace.podSecurity.enforce: {level}{hint}")
    if problems:
        return problems
    most = max(needs, key=lambda need: levels.index(need[1]), default=None)
    required = most[1] if most else levels[0]
    if levels.index(enforced) > levels.index(required):
        if most:
            why = (f"the most demanding release, {most[0].release.name} ({most[0].release.model_file}), needs "
                   f"{required}" + (f" ({'; '.join(most[2])}, which the next stricter level refuses)" if most[2] else ""))
        else:
            why = "no release is installed"
        problems.append(f"environment {env}: namespace {ns['name']} enforces Pod Security {enforced} ({key}), more "
                        f"than its releases need: {why}; set namespace.podSecurity.enforce: {required}, so pods that "
                        f"need more are refused")
    return problems


def priority_classes(renders: Sequence[harness.Rendered], namespace: harness.Rendered) -> list[str]:
    """Every priorityClassName a release uses is one the namespace release creates (else pods are refused)."""
    env = namespace.release.environment
    defined = sorted(doc["metadata"]["name"] for doc in namespace.objects("PriorityClass"))
    problems = []
    for rendered in renders:
        workload = rendered.workload()
        for name in dict.fromkeys(pod.spec.get("priorityClassName") for pod in workload.templates):
            if not name or name in defined:
                continue
            problems.append(f"{where(rendered)}: {workload.kind} {workload.name} uses PriorityClass "
                            f"{name} ({origin(rendered.release, 'priorityClassName')}), which the llms-namespace "
                            f"release does not create (it creates {', '.join(defined) or 'none'}): the API server "
                            f"would refuse its pods; use one of those or add it to {environment_file(env)} "
                            f"namespace.priorityClasses")
    return problems


# --- LoRA adapters -------------------------------------------------------------------------------

def adapters(rel: harness.Release) -> list[tuple[str, dict]]:
    """The adapters a release serves, each with the key that names it (lora.adapters[i])."""
    values = rel.values()
    if harness.lookup(values, "lora.enabled") is not True:
        return []
    return [(f"lora.adapters[{index}]", adapter)
            for index, adapter in enumerate(harness.lookup(values, "lora.adapters") or [])]


def adapter_names(releases: Iterable[harness.Release]) -> list[str]:
    """An adapter is a model of /v1/models: its name is unique against every served model name and every adapter
    of its environment (two releases' names alone are served_model_names' concern)."""
    owners: dict[tuple[str, str], list[tuple[harness.Release, str]]] = collections.defaultdict(list)
    for rel in releases:
        served = harness.lookup(rel.values(), "deployment.servedModelName")
        if served:
            owners[(rel.environment, served)].append((rel, "deployment.servedModelName"))
        for key, adapter in adapters(rel):
            owners[(rel.environment, str(adapter.get("name")))].append((rel, f"{key}.name"))
    problems = []
    for (env, name), holders in sorted(owners.items()):
        if len(holders) > 1 and any(key.startswith("lora.") for _, key in holders):
            named = ", ".join(f"{key} of {rel.name} ({rel.model_file})" for rel, key in holders)
            problems.append(f"environment {env}: model name {name!r} is {named}; clients pick a model or adapter by "
                            f"this name in one /v1/models list, so rename the adapter (lora.adapters[].name) to a "
                            f"name no release of {env} serves")
    return problems


def base_name(model: str) -> str:
    """A checkpoint's repository name, lowercased, without its organisation and quantization suffix."""
    name = model.rstrip("/").rsplit("/", 1)[-1].lower()
    for suffix in sorted(rules.data()["lora"]["quantizedSuffixes"], key=len, reverse=True):
        if name.endswith(suffix.lower()):
            return name[:-len(suffix)]
    return name


def release_checkpoint(values: Mapping) -> str:
    """modelInfo.checkpoint, else deployment.model below storage.mountPath (the id fit finds the facts by)."""
    explicit = harness.lookup(values, "modelInfo.checkpoint")
    if explicit:
        return str(explicit)
    mount = str(harness.lookup(values, "storage.mountPath") or "/models").rstrip("/") + "/"
    model = str(harness.lookup(values, "deployment.model") or "")
    return model[len(mount):] if model.startswith(mount) else model


def adapter_base_models(releases: Iterable[harness.Release]) -> list[str]:
    """An adapter serves the model it was trained on: its baseModel is the release's checkpoint (or the original
    of a quantized copy); an adapter of another model loads into mismatched layers or fails at start."""
    problems = []
    for rel in releases:
        checkpoint = release_checkpoint(rel.values())
        for key, adapter in adapters(rel):
            base = adapter.get("baseModel")
            if base and base_name(str(base)) != base_name(checkpoint):
                problems.append(f"{at(rel)}: {key}.baseModel is {base}, but the release serves {checkpoint} "
                                f"(modelInfo.checkpoint, else deployment.model); adapter {adapter.get('name')} was "
                                f"trained on another model: serve it from a release of {base}, or give "
                                f"{key} an adapter trained on {checkpoint} (rules.yaml lora.quantizedSuffixes counts "
                                f"a quantized copy as its original)")
    return problems


# --- Model delivery ------------------------------------------------------------------------------

HF_COMMIT = re.compile(r"^[0-9a-f]{40}$")
REVISION_KEY = "storage.download.huggingface.revision"


def pinned_revisions(releases: Iterable[harness.Release]) -> list[str]:
    """A production release that downloads from Hugging Face names a commit: a branch or tag (or none, the
    Hub's `main`) moves after staging tested it, and every restart or new node may fetch other weights."""
    problems = []
    for rel in releases:
        values = rel.values()
        if not (rel.environment.startswith("production") and harness.lookup(values, "storage.download.enabled") is True
                and harness.lookup(values, "storage.download.source") == "huggingface"):
            continue
        fetched = [(REVISION_KEY, harness.lookup(values, "storage.download.huggingface.repo"),
                    harness.lookup(values, REVISION_KEY))]
        fetched += [(f"{key}.huggingface.revision", (adapter.get("huggingface") or {}).get("repo"),
                     (adapter.get("huggingface") or {}).get("revision"))
                    for key, adapter in adapters(rel) if adapter.get("source") == "huggingface"]
        for revision_key, repo, revision in fetched:
            revision = str(revision or "")
            if HF_COMMIT.match(revision):
                continue
            shown = f"{revision!r}, not a commit" if revision else "unset, so the Hub's moving main"
            problems.append(f"{at(rel)}: {revision_key} is {shown}; a production environment downloads "
                            f"{repo or 'the repository'} only at a commit (40 hexadecimal characters) so it serves "
                            f"what staging tested: set {revision_key} in {rel.model_file} to the commit id (the "
                            f"Hub's \"Files and versions\" history)")
    return problems


# --- Promotion -----------------------------------------------------------------------------------

def production_environments(order: Sequence[str]) -> list[str]:
    return [env for env in order if env.startswith("production")]


def gate_environment(order: Sequence[str]) -> str:
    """The environment production promotes from: the last one before the first production-*."""
    production = production_environments(order)
    index = order.index(production[0]) if production else len(order)
    if index == 0:
        raise LookupError("environments/fleet.yaml promotionOrder starts with a production environment: "
                          "list staging before it")
    return order[index - 1]


def version_key(tag: str) -> tuple | None:
    """`v0.11.0` -> (0, 11, 0, 1, 0); pre-releases (`rc1`, `a2`, `.dev3`) sort before their release."""
    match = re.fullmatch(r"v?(\d+)\.(\d+)(?:\.(\d+))?(?:[.-]?(dev|a|alpha|b|beta|rc)\.?(\d+)?)?", str(tag))
    if not match:
        return None
    major, minor, patch, pre, number = match.groups()
    rank = {"dev": -3, "a": -2, "alpha": -2, "b": -1, "beta": -1, "rc": 0}.get(pre, 1)
    return int(major), int(minor), int(patch or 0), rank, int(number or 0)


def image_tag(rel: harness.Release) -> str:
    values = rel.values()
    return str(harness.lookup(values, "image.tag") or harness.lookup(values, "global.image.tag") or "")


def promotion(configured: Mapping[str, Sequence[harness.Release]], order: Sequence[str]) -> list[str]:
    """Production runs only what staging configures, on an image no newer than staging's."""
    gate = gate_environment(order)
    staged = {rel.name: rel for rel in configured.get(gate, ())}
    problems = []
    for env in production_environments(order):
        for rel in configured.get(env, ()):
            if not rel.installed:
                continue
            model = rel.labels.get("model", "")
            staging = staged.get(rel.name)
            if staging is None:
                problems.append(f"{at(rel)}: enabled in {env} ({environment_file(env)} "
                                f"{rel.category}.models.{model}.enabled) but not configured in {gate}: there is no "
                                f"environments/{gate}/{rel.category}/{model}.yaml; add it to {gate} first "
                                f"(promotion order {' -> '.join(order)}) or disable it here")
                continue
            ours, theirs = image_tag(rel), image_tag(staging)
            for tag, owner in ((ours, rel), (theirs, staging)):
                if version_key(tag) is None:
                    problems.append(f"{at(owner)}: image tag {tag!r} ({origin(owner, 'image.tag')}) is not a "
                                    f"version, so promotion cannot compare it; pin a vLLM release such as v0.11.0")
            if version_key(ours) and version_key(theirs) and version_key(ours) > version_key(theirs):
                problems.append(f"{at(rel)}: image tag {ours} ({origin(rel, 'image.tag')}) is newer than {gate}'s "
                                f"{theirs} ({origin(staging, 'image.tag')}); production runs only what {gate} has "
                                f"run: set {gate} to {ours} first, or keep {theirs} here")
    # A bad staging tag is found once per production environment: report it once.
    return list(dict.fromkeys(problems))


# --- Entry point ---------------------------------------------------------------------------------

def environment_values(env: str) -> dict:
    return harness.load_yaml((toolchain.ENVIRONMENTS_DIR / env / "values.yaml").read_text()) or {}


def check_environment(env: str, renders: Sequence[harness.Rendered] | None = None) -> list[str]:
    """Every rule that looks at one environment: ports, names, files, flags, capacity, pod admission.

    `renders`: the environment's installed model releases, already rendered (else rendered here).
    """
    fleet = harness.fleet_data()
    categories = list(fleet.get("categories", []))
    configured = model_releases(env, include_disabled=True)
    installed = [rel for rel in configured if rel.installed]
    renders = [harness.render(rel) for rel in installed] if renders is None else list(renders)
    namespace = harness.render(namespace_release(env))
    return [
        *ports.nodeport_conflicts(renders),
        *ports.nodeport_ranges(configured, ports.port_ranges(fleet)),
        *release_names(configured),
        *served_model_names(installed),
        *adapter_names(installed),
        *adapter_base_models(installed),
        *selector_overlaps(renders),
        *unread_files(env, toolchain.ENVIRONMENTS_DIR / env, configured, categories),
        *releases_without_file(configured, toolchain.ROOT),
        *enable_flags(env, environment_values(env), configured, categories),
        *capacity.capacity(renders, namespace),
        *fit.check_environment(env, renders),
        *pod_security(renders, namespace),
        *priority_classes(renders, namespace),
        *pinned_revisions(installed),
    ]


def check_across_environments() -> list[str]:
    """The rules that compare environments: port drift and promotion."""
    fleet = harness.fleet_data()
    order = harness.environments()
    configured = {}
    for env in order:
        try:
            configured[env] = model_releases(env, include_disabled=True)
        except harness.RenderError:
            # helmfile cannot read this environment: its own check reports why, naming the file;
            # the comparisons run over the environments that can be read.
            continue
    order = [env for env in order if env in configured]
    return [
        *environment_folders(toolchain.ENVIRONMENTS_DIR, order),
        *ports.nodeport_drift(configured, order, fleet.get("portChanges") or []),
        *promotion(configured, order),
    ]


def check_fleet(environments: Iterable[str] | None = None) -> list[str]:
    """Every fleet rule: per-environment rules for `environments` (default: all), then cross-environment ones."""
    selected = list(environments) if environments is not None else harness.environments()
    problems = [problem for env in selected for problem in check_environment(env)]
    return problems + check_across_environments()
