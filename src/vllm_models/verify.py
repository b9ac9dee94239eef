"""Verify environments: the one place that runs every check, for `make render`, the CLI and pre-commit.

Order: each values file on its own (syntax, duplicated keys, schema by file) -> the releases helmfile
defines -> helm template -> Kubernetes schemas -> per-release checks (policies, vLLM arguments) ->
fleet-wide checks over every release of the environment. Renders are cached by input digest, so
re-verifying after one edited file runs helm only for the releases that file feeds.
"""
from __future__ import annotations

import concurrent.futures
import dataclasses
import itertools
import math
import os
import re
from pathlib import Path
from typing import Callable, Iterable

from . import fleet, kube_validate, metrics, policy, toolchain, values_check
from . import render as harness

ALL = None  # every release of an environment


@dataclasses.dataclass(frozen=True)
class Finding:
    check: str
    environment: str
    message: str
    release: str = ""

    def __str__(self) -> str:
        return f"[{self.check}] {self.message}"


@dataclasses.dataclass
class Report:
    findings: list[Finding] = dataclasses.field(default_factory=list)
    renders: dict[str, list[harness.Rendered]] = dataclasses.field(default_factory=dict)
    checked: dict[str, list[str]] = dataclasses.field(default_factory=dict)  # env -> releases checked

    @property
    def ok(self) -> bool:
        return not self.findings


def kubernetes_schema(rendered: harness.Rendered) -> list[Finding]:
    rel = rendered.release
    version = toolchain.kube_version()
    return [Finding("kubernetes-schema", rel.environment,
                    f"environment {rel.environment}, release {rel.name} ({rel.model_file}): {problem}", rel.name)
            for doc in rendered.documents for problem in kube_validate.validate(doc, version)]


def image_version(container: dict) -> str:
    return harness.image_tag(container.get("image", ""))


def vllm_arguments(rendered: harness.Rendered) -> list[Finding]:
    """The container's command line against the catalog of the vLLM version its image runs."""
    from . import vllm_args

    rel = rendered.release
    if not rendered.workloads():  # the namespace release runs no vLLM
        return []
    where = f"environment {rel.environment}, release {rel.name} ({rel.model_file})"
    container = rendered.container()  # a multi-node group's leader: its workers run the same vLLM, or Ray
    tag = image_version(container)
    try:
        problems = vllm_args.check_args(serve_command(rendered), tag)
        problems += [problem for env in container.get("env", []) if env["name"] == "VLLM_ATTENTION_BACKEND"
                     for problem in vllm_args.check_attention_backend(env.get("value", ""), tag)]
    except vllm_args.CatalogMissing as missing:
        return [Finding("vllm-args", rel.environment, f"{where}: {missing}", rel.name)]
    return [Finding("vllm-args", rel.environment, f"{where}: {problem.message}", rel.name) for problem in problems]


def serve_command(rendered: harness.Rendered) -> list[str]:
    """The `vllm serve` command line the serving container (a multi-node group's leader) runs, as vLLM sees it.

    dropPageCache and the Ray leader wrap vLLM in `sh -c '... exec vllm serve "$@"' vllm-serve <args>`:
    this is what it execs; `$(VAR)` references are expanded as Kubernetes does."""
    container = rendered.container()
    command = container.get("command", [])
    if command[:2] == ["/bin/sh", "-c"] and command[2:3] and command[2].endswith('exec vllm serve "$@"'):
        command = ["vllm", "serve"]
    return command + expand_references(container.get("args", []), kubernetes_env(rendered, container))


def kubernetes_env(rendered: harness.Rendered, container: dict) -> dict[str, str]:
    """The variables Kubernetes expands `$(VAR)` from in the serving container's args: its literal env, and
    for a group's leader what LWS injects (LWS_LEADER_ADDRESS, LWS_GROUP_SIZE, LWS_WORKER_INDEX 0)."""
    env = {e["name"]: str(e["value"]) for e in container.get("env", []) if "value" in e}
    workload = rendered.workload()
    if workload.kind == "LeaderWorkerSet":
        namespace = workload.object["metadata"].get("namespace", rendered.release.namespace)
        env.setdefault("LWS_LEADER_ADDRESS", f"{workload.name}-0.{workload.name}.{namespace}")
        env.setdefault("LWS_GROUP_SIZE", str(workload.size))
        env.setdefault("LWS_WORKER_INDEX", "0")
    return env


def expand_references(args: list, env: dict[str, str]) -> list[str]:
    """Kubernetes' `$(VAR)` expansion of container args: a defined variable is replaced, `$$` escapes,
    an undefined reference stays as written."""
    def expand(text: str) -> str:
        return re.sub(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)",
                      lambda m: "$" if m.group(0) == "$$" else env.get(m.group(1), m.group(0)), text)
    return [expand(str(arg)) for arg in args]


def metric_names(rendered: harness.Rendered) -> list[Finding]:
    """Alerts, dashboard and autoscaler read only metrics the release's vLLM version exports."""
    rel = rendered.release
    if not rendered.workloads():
        return []
    try:
        problems = metrics.metric_problems(rendered)
    except metrics.CatalogMissing as missing:
        problems = [f"{harness.where(rendered)}: {missing}"]
    return [Finding("metrics", rel.environment, problem, rel.name) for problem in problems]


class PolicyBatches:
    """The policies over every checked release, in conftest processes started while helm renders the rest.

    conftest checks one file after another on one core and costs ~0.2 s to start. A batch starts once it
    holds a quarter of the releases not yet started (on two cores; eight at least), so batches shrink as
    rendering nears its end and the last ones finish soon after it; the releases left then are split over
    the cores. A release whose objects, policies, data and exceptions were all checked before takes its
    results from the render cache."""

    SMALLEST = 8

    def __init__(self, total: int, cores: int = os.cpu_count() or 1) -> None:
        self.cores = cores
        self.remaining = total  # releases not added yet
        self.pending: list[tuple[harness.Rendered, str]] = []
        self.running: list[tuple[policy.Evaluation, list[str]]] = []
        self.order: list[str] = []  # every release's key, in the order added: findings keep that order
        self.known: dict[str, list[policy.Violation]] = {}
        self._inputs: str | None = None

    def add(self, rendered: harness.Rendered) -> None:
        self.remaining -= 1
        if self._inputs is None:
            self._inputs = policy.inputs_digest()
        key = policy.result_key(rendered, self._inputs)
        self.order.append(key)
        cached = harness.cache_load(key)
        if cached is not harness.MISSING:
            self.known[key] = [policy.Violation(**fields) for fields in cached]
            return
        self.pending.append((rendered, key))
        if len(self.pending) >= self.batch_size():
            self._start(self.pending)
            self.pending = []

    def batch_size(self) -> int:
        """Releases a batch waits for: a quarter (on two cores) of those not started yet, eight at least."""
        return max(self.SMALLEST, math.ceil((len(self.pending) + self.remaining) / (2 * self.cores)))

    def _start(self, batch: list[tuple[harness.Rendered, str]]) -> None:
        self.running.append((policy.start([rendered for rendered, _ in batch]), [key for _, key in batch]))

    def findings(self) -> list[Finding]:
        parts = min(self.cores, math.ceil(len(self.pending) / self.SMALLEST))
        for index in range(parts):
            self._start(self.pending[index::parts])
        self.pending = []
        found = []
        for evaluation, keys in self.running:
            try:
                results = evaluation.results()
            except policy.PolicyError as error:  # the same broken exceptions file fails every batch: say it once
                if Finding("policy", "", str(error)) not in found:
                    found.append(Finding("policy", "", str(error)))
                continue
            for key, violations in zip(keys, results):
                harness.cache_store(key, [dataclasses.asdict(v) for v in violations])
                self.known[key] = violations
        return found + [Finding("policy", v.environment, str(v), v.release) for key in self.order
                        for v in self.known.get(key, []) if v.severity == "deny" and not v.excepted]


def fleet_rules(env: str, renders: list[harness.Rendered]) -> list[Finding]:
    """Ports, names, files, flags, capacity and admission: what needs every release of the environment."""
    models = [r for r in renders if harness.is_model_release(r.release)]
    return [Finding("fleet", env, problem) for problem in fleet.check_environment(env, models)]


def alert_rules(env: str, renders: list[harness.Rendered]) -> list[Finding]:
    """Every PrometheusRule of the environment passes `promtool check rules` (one promtool process)."""
    from . import alerts

    return [Finding("alerts", env, problem) for problem in alerts.check(env, renders)]


RELEASE_CHECKS: list[Callable[[harness.Rendered], list[Finding]]] = [kubernetes_schema, vllm_arguments, metric_names]
FLEET_CHECKS: list[Callable[[str, list[harness.Rendered]], list[Finding]]] = [fleet_rules, alert_rules]


def affected(files: Iterable[str | Path]) -> dict[str, set[str] | None]:
    """Which releases of which environments the given files feed (ALL = every release of the env)."""
    targets: dict[str, set[str] | None] = {}
    everything = {env: ALL for env in harness.environments()}
    for file in files:
        path = Path(file).resolve()
        try:
            parts = path.relative_to(toolchain.ROOT).parts
        except ValueError:
            continue
        # Charts, policies, code and the fleet-wide data (environments/*.yaml: fleet, models, GPUs) feed every release.
        if parts[:1] in (("charts",), ("policies",), ("src",), ("helmfile.yaml.gotmpl",)) or (
                len(parts) == 2 and parts[0] == "environments" and parts[1].endswith(".yaml")):
            return everything
        if len(parts) >= 3 and parts[0] == "environments" and parts[1] in everything:
            env = parts[1]
            if parts[2] == "values.yaml" or targets.get(env, set()) is ALL:
                targets[env] = ALL
                continue
            names = {rel.name for rel in harness.releases(env, include_disabled=True)
                     if any(s.path == path for s in rel.sources)}
            targets.setdefault(env, set()).update(names or {f"llms-v2-{path.stem}"})
    return targets


def _render_and_check(task: tuple[harness.Release, bool]) -> tuple[harness.Rendered | None, list[Finding]]:
    """One release end to end: helm, then every release check when it is one of those checked."""
    rel, check = task
    try:
        rendered = harness.render(rel)
    except harness.RenderError as error:
        return None, [Finding("render", rel.environment, str(error), rel.name)]
    return rendered, [f for release_check in RELEASE_CHECKS for f in release_check(rendered)] if check else []


def release_lists(envs: Iterable[str]) -> dict[str, list[harness.Release] | harness.RenderError]:
    """Each environment's releases from helmfile, the helmfile runs side by side."""
    def one(env: str) -> list[harness.Release] | harness.RenderError:
        try:
            return harness.releases(env)
        except harness.RenderError as error:
            return error
    envs = list(envs)
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, len(envs))) as pool:
        return dict(zip(envs, pool.map(one, envs)))


def verify(targets: dict[str, set[str] | None]) -> Report:
    """Run every check for the targeted environments/releases; fleet checks see the whole environment.

    One pipeline over every environment: the workers render and check releases while this process runs
    the fleet checks of the environments already rendered and conftest checks batches of releases."""
    report = Report()
    release_list = release_lists(targets)
    plan = []  # per environment: its findings so far, its releases, and which of them render and are checked
    for env, names in targets.items():
        bad_files = values_check.check_environment_files(env)
        findings = [Finding("values", env, str(p)) for p in bad_files]
        broken = {p.file for p in bad_files}
        releases = release_list[env]
        if isinstance(releases, harness.RenderError):
            if not bad_files:  # a broken values file already says, by file and key, why helmfile cannot read it
                findings.append(Finding("helmfile", env, str(releases)))
            plan.append((env, findings, None, []))
            continue
        usable = [rel for rel in releases if not any(s.edited_file in broken for s in rel.sources)]
        plan.append((env, findings, releases, [(rel, names is ALL or rel.name in names) for rel in usable]))
    batches = PolicyBatches(sum(checked for *_, tasks in plan for _, checked in tasks))
    with harness.Workers() as workers:
        done = workers.imap(_render_and_check, [task for *_, tasks in plan for task in tasks])
        for env, findings, releases, tasks in plan:
            report.findings += findings
            if releases is None:
                continue
            renders, report.checked[env] = [], []
            for (_, checked), (rendered, release_findings) in itertools.islice(done, len(tasks)):
                report.findings += release_findings
                if rendered is not None:
                    renders.append(rendered)
                    if checked:
                        report.checked[env].append(rendered.release.name)
                        batches.add(rendered)
            report.renders[env] = renders
            if len(renders) == len(releases):  # a failed render already explains itself
                for check in FLEET_CHECKS:
                    report.findings += check(env, renders)
    report.findings += batches.findings()
    if targets:  # one changed file can break a rule between environments (a port that now differs)
        report.findings += [Finding("fleet", "", problem) for problem in fleet.check_across_environments()]
    return report
