"""`upgrade`: move an environment's releases (or one release) to another vLLM image tag, or refuse.

The image tags are rewritten in place, comments kept (`global.image.tag` in the environment's values.yaml
and `image.tag` in its model files; with `--release` only that release's file). Every release in scope is
then rendered with the new tag and checked as `verify` checks it, against the new version's catalog: its
command line (a flag or value the new vLLM rejects, a tool or reasoning parser it no longer has), its
environment (an attention backend it lacks), the metrics its alerts, dashboard and autoscaler read, the
chart's own refusals (an image without LMCache, a key the version cannot honour) and the GPU fit, whose
arithmetic changes with the version. A release that would not start refuses the whole upgrade: every file
is restored and nothing is written (exit 2). So does a production environment moving past the version the
environment it is promoted from runs, and a release whose image.digest pins the old tag's content.

The report says what changes between the versions for what the chart reads (metric names, parsers,
flags the old command lines use that the new version lacks, variables it no longer reads, LMCache in the
image) and prints the semantic diff of the rendered manifests; on success the environment's golden renders
are rewritten, as new-model and promote do.
"""
from __future__ import annotations

import dataclasses
import re
from typing import Callable

import yaml

from . import fit, fleet, golden, metrics, semdiff, toolchain, verify, vllm_args, vllm_versions, yamledit
from . import render as harness
from .scaffold import Refusal

TAG = re.compile(r"^v[0-9]+\.[0-9]+\.[0-9]+([.-][0-9A-Za-z.-]+)?$")  # values.schema.json image.tag


@dataclasses.dataclass
class ReleaseReport:
    release: str
    file: str
    old_tag: str
    new_tag: str
    installed: bool
    problems: list[str] = dataclasses.field(default_factory=list)  # why it would not start (or monitor)
    notes: list[str] = dataclasses.field(default_factory=list)  # what changes that needs no action

    def as_dict(self) -> dict:
        return {"release": self.release, "file": self.file, "from": self.old_tag, "to": self.new_tag,
                "installed": self.installed, "ok": not self.problems, "problems": self.problems, "notes": self.notes}


@dataclasses.dataclass
class VersionChange:
    """What changes between two vLLM versions for what the chart reads (catalogs and vllm-versions.yaml)."""
    old: str
    new: str
    metrics_renamed: list[dict]  # {purpose, old, new}: the series the chart reads
    metrics_removed: list[str]  # exported (unhidden) by old, gone or hidden in new
    tool_parsers_removed: list[str]
    tool_parsers_added: list[str]
    reasoning_parsers_removed: list[str]
    reasoning_parsers_added: list[str]
    flags_removed: list[str]  # flags the old command lines of the releases use that the new version lacks
    lmcache: dict[str, list[bool]]  # repository -> [old image carries it, new image carries it]

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclasses.dataclass
class Report:
    environment: str
    to: str
    releases: list[ReleaseReport]
    versions: list[VersionChange]
    edits: list[str]  # "file key: old -> new"
    across: list[str] = dataclasses.field(default_factory=list)  # rules between environments the upgrade breaks
    diff: list[semdiff.ReleaseDiff] = dataclasses.field(default_factory=list)
    written: bool = False
    golden: list[str] = dataclasses.field(default_factory=list)

    @property
    def refused(self) -> bool:
        return bool(self.across) or any(r.problems for r in self.releases)

    def as_dict(self) -> dict:
        return {"environment": self.environment, "to": self.to, "refused": self.refused, "written": self.written,
                "edits": self.edits, "releases": [r.as_dict() for r in self.releases],
                "versions": [v.as_dict() for v in self.versions], "across": self.across,
                "golden": self.golden, "diff": [d.as_dict() for d in self.diff]}


# --- Edits ---------------------------------------------------------------------------------------

def _quoted(text: str, path: list[str], tag: str) -> str:
    """`tag` written the way the file writes the key's current value (quoted or bare)."""
    value = yaml.safe_load(text) or {}
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    if value is None:
        return f'"{tag}"'
    line = re.search(rf"^\s*{re.escape(path[-1])}:\s*(['\"]?){re.escape(str(value))}\1", text, re.M)
    quote = line.group(1) if line else ""
    return f"{quote}{tag}{quote}"


def _set_tag(edits: yamledit.Edits, changed: list[str], relative: str, path: list[str], tag: str,
             *, always: bool = False) -> None:
    text = edits.texts.get(toolchain.ROOT / relative) or (toolchain.ROOT / relative).read_text()
    current = harness.lookup(yaml.safe_load(text) or {}, ".".join(path))
    if current is None and not always or str(current) == tag:
        return
    edits.set(relative, yamledit.set_key(text, path, _quoted(text, path, tag), label=relative))
    changed.append(f"{relative} {'.'.join(path)}: {current if current is not None else '(unset)'} -> {tag}")


def plan_edits(env: str, scope: list[harness.Release], tag: str, whole: bool) -> tuple[yamledit.Edits, list[str]]:
    """The files to rewrite: the environment's global.image.tag (whole environment) and each model file's image.tag
    (one release: set there even when it only inherits the environment's tag)."""
    edits, changed = yamledit.Edits(), []
    if whole:
        _set_tag(edits, changed, harness.environment_file(env), ["global", "image", "tag"], tag)
    for rel in scope:
        _set_tag(edits, changed, rel.model_file, ["image", "tag"], tag, always=not whole)
    return edits, changed


# --- Checks --------------------------------------------------------------------------------------

def release_problems(rendered: harness.Rendered, pools: list[fit.Pool]) -> list[str]:
    """Why the release would not start on its new version, or would watch metrics it does not export."""
    found = [f.message for check in (verify.vllm_arguments, verify.metric_names) for f in check(rendered)]
    found += [p for result in fit.release_fit(rendered, pools) for p in result.problems]
    return found


def _unhidden(catalog: dict) -> set[str]:
    return {name for name, entry in catalog["metrics"].items() if not entry.get("hidden")}


def version_change(old: str, new: str, old_commands: list[list[str]]) -> VersionChange:
    before, after = vllm_args.load_catalog(old), vllm_args.load_catalog(new)
    facts_before, facts_after = vllm_versions.facts(old), vllm_versions.facts(new)
    renamed = [{"purpose": purpose, "old": name, "new": facts_after["metrics"].get(purpose)}
               for purpose, name in facts_before["metrics"].items() if facts_after["metrics"].get(purpose) != name]
    used = sorted({flag for command in old_commands for flag in vllm_args.flags_used(command)})
    repositories = sorted(set(facts_before["lmcache"]) | set(facts_after["lmcache"]))

    def diff(key: str) -> tuple[list[str], list[str]]:
        a, b = set(before.get(key) or []), set(after.get(key) or [])
        return sorted(a - b), sorted(b - a)
    tools_gone, tools_new = diff("tool_call_parsers")
    reasoning_gone, reasoning_new = diff("reasoning_parsers")
    return VersionChange(
        old=vllm_args.catalog_version(old), new=vllm_args.catalog_version(new), metrics_renamed=renamed,
        metrics_removed=sorted(_unhidden(before) - _unhidden(after)),
        tool_parsers_removed=tools_gone, tool_parsers_added=tools_new,
        reasoning_parsers_removed=reasoning_gone, reasoning_parsers_added=reasoning_new,
        flags_removed=[flag for flag in used if flag in before["flags"] and flag not in after["flags"]],
        lmcache={repo: [bool(facts_before["recorded"] and facts_before["lmcache"].get(repo)),
                        bool(facts_after["recorded"] and facts_after["lmcache"].get(repo))] for repo in repositories})


def release_notes(rel: harness.Release, old: harness.Rendered | None, new: harness.Rendered, tag: str) -> list[str]:
    """What changes for this release that needs no action, or that a person should know."""
    notes = []
    catalog = vllm_args.load_catalog(tag)
    version = vllm_args.catalog_version(tag)
    container = new.container()
    known = set(catalog["env_vars"])
    for entry in container.get("env", []):
        name = entry["name"]
        if name.startswith("VLLM_") and name not in known:
            notes.append(f"environment variable {name} is not read by vLLM {version} (it is not in "
                         f"src/vllm_models/data/vllm/v{version}.json env_vars): it has no effect; drop it from extraEnv")
    used = vllm_args.flags_used(verify.serve_command(new))
    for flag in used:
        if flag in (catalog.get("deprecations") or {}):
            notes.append(f"{flag} is deprecated in vLLM {version}: {catalog['deprecations'][flag]}")
    if old is not None:
        before, after = set(vllm_args.flags_used(verify.serve_command(old))), set(used)
        if before != after:
            gone, added = sorted(before - after), sorted(after - before)
            notes.append("the chart now renders " + "; ".join(
                part for part in (f"without {', '.join(gone)}" if gone else "",
                                  f"with {', '.join(added)}" if added else "") if part))
    values = rel.values()
    kv = harness.lookup(values, "deployment.kvOffloading") or {}
    if kv.get("enabled"):
        facts = vllm_versions.facts(tag)
        repository = harness.lookup(values, "image.repository") or "vllm/vllm-openai"
        if kv.get("backend", "lmcache") == "lmcache":
            carried = facts["lmcache"].get(repository)
            state = ("carries LMCache" if carried and facts["recorded"] else
                     "is not recorded to carry LMCache" if carried is not None else
                     "is not one vllm-versions.yaml records: make sure it installs lmcache")
            notes.append(f"kvOffloading backend lmcache: {repository}:{tag} {state}"
                         + ("; vLLM's own offloading is an option (kvOffloading.backend native)"
                            if facts["flags"].get("--kv-offloading-backend") else ""))
    return notes


# --- The upgrade ---------------------------------------------------------------------------------

def scope_of(env: str, release: str | None) -> list[harness.Release]:
    if env not in harness.environments():
        raise Refusal(f"environment {env} is not in environments/fleet.yaml promotionOrder "
                      f"({', '.join(harness.environments())})")
    configured = harness.model_releases(env, include_disabled=True)
    if release is None:
        return configured
    chosen = [rel for rel in configured if rel.name in (release, f"llms-v2-{release}")]
    if not chosen:
        raise Refusal(f"environment {env} has no release {release} (its releases: "
                      f"{', '.join(rel.name for rel in configured) or 'none'}); `vllm-models ports --env {env}` lists them")
    return chosen


def check_tag(tag: str) -> None:
    if not TAG.match(tag):
        raise Refusal(f"--to {tag} is not a vLLM release tag such as v0.33.0 (never latest)")
    try:
        vllm_args.load_catalog(tag)
    except vllm_args.CatalogMissing as missing:
        raise Refusal(f"--to {tag}: {missing}; the upgrade checks every release against that catalog") from None


def stale_digest(rel: harness.Release, old_tag: str, new_tag: str) -> list[str]:
    """A digest pins the content of the tag it was read for: moving the tag under it would keep pulling the old
    image under the new version's name (and every check would read the new one)."""
    values = rel.values()
    digest = harness.lookup(values, "image.digest")
    if not digest or old_tag == new_tag:
        return []
    image = f"{harness.lookup(values, 'image.repository') or harness.chart_default('image.repository')}:{new_tag}"
    return [f"{rel.model_file}: image.digest {digest} pins the content of {old_tag}; moved to {new_tag}, the pods "
            f"would still pull {old_tag}'s image. Remove image.digest from {rel.model_file} before the upgrade and "
            f"set the registry's digest of {image} after it (crane digest {image}), or promote the release from the "
            f"environment before with --image-digest"]


def upgrade(env: str, tag: str, release: str | None = None, *, dry_run: bool = False,
            progress: Callable[[str], None] = lambda _status: None) -> Report:
    """Rewrite the tags, check every release in scope on the new version, keep or undo the edits."""
    check_tag(tag)
    scope = scope_of(env, release)
    progress("rendering the current releases")
    before = {}
    for rel in scope:
        try:
            before[rel.name] = harness.render(rel)
        except harness.RenderError:
            before[rel.name] = None  # already broken: the new render says why, if it still is
    old_tags = {rel.name: fleet.image_tag(rel) for rel in scope}
    across_before = set(fleet.check_across_environments())
    edits, changed = plan_edits(env, scope, tag, whole=release is None)
    try:
        pools = fit.node_pools(env)
    except fit.FactsError as error:
        raise Refusal(f"environment {env}: {error}") from None

    edits.apply()
    fit.models.cache_clear()
    try:
        reports, after = [], {}
        for rel in harness.model_releases(env, include_disabled=True):
            if rel.name not in old_tags:
                continue
            progress(f"rendering {rel.name} on {tag}")
            report = ReleaseReport(rel.name, rel.model_file, old_tags[rel.name], fleet.image_tag(rel), rel.installed)
            report.problems += stale_digest(rel, report.old_tag, report.new_tag)
            try:
                rendered = harness.render(rel)
            except harness.RenderError as error:
                report.problems.append(f"{harness.at(rel)}: {error.reason}")
            else:
                after[rel.name] = rendered
                report.problems += release_problems(rendered, pools)
                report.notes += release_notes(rel, before.get(rel.name), rendered, report.new_tag)
            reports.append(report)
        pairs = sorted({(r.old_tag, r.new_tag) for r in reports if r.old_tag != r.new_tag})
        changes = [version_change(old, new, [verify.serve_command(before[r.release]) for r in reports
                                             if (r.old_tag, r.new_tag) == (old, new) and before.get(r.release)])
                   for old, new in pairs if _catalogued(old)]
        across = [p for p in fleet.check_across_environments() if p not in across_before]
        result = Report(env, tag, reports, changes, changed, across)
        result.diff = semdiff.diff_releases(
            {name: rendered.documents for name, rendered in before.items() if rendered is not None},
            {name: rendered.documents for name, rendered in after.items()})
        if result.refused or dry_run or not changed:
            edits.rollback()
            fit.models.cache_clear()
            return result
        progress("rewriting the golden renders")
        written, removed, _total = golden.write(environments={env})
        result.golden = [f"tests/golden/{path}" for path in written + removed]
        result.written = True
        return result
    except BaseException:
        edits.rollback()
        fit.models.cache_clear()
        raise


def _catalogued(tag: str) -> bool:
    try:
        vllm_args.load_catalog(tag)
    except vllm_args.CatalogMissing:
        return False
    return True


# --- Text ----------------------------------------------------------------------------------------

def _listing(names: list[str], limit: int = 12) -> str:
    if not names:
        return "none"
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def format_text(report: Report) -> str:
    lines = []
    scope = f"{len(report.releases)} release(s)"
    verdict = "refused, nothing written" if report.refused else ("written" if report.written else
                                                                  "nothing to change" if not report.edits else "dry run, nothing written")
    lines.append(f"upgrade: {report.environment} to {report.to}, {scope}: {verdict}")
    for change in report.versions:
        lines.append(f"vLLM {change.old} -> {change.new}, for what the chart reads and renders:")
        for item in change.metrics_renamed:
            lines.append(f"  metric renamed ({item['purpose']}): {item['old']} -> {item['new']} "
                         f"(alerts, dashboard and KEDA follow it)")
        if not change.metrics_renamed:
            lines.append(f"  metrics the alerts, dashboard and KEDA read: the same series in both "
                         f"({len(vllm_versions.facts(change.new)['metrics'])}, vllm-versions.yaml)")
        lines.append(f"  metrics removed or hidden: {_listing(change.metrics_removed)}"
                     + (" (queries outside the chart that read them go empty)" if change.metrics_removed else ""))
        lines.append(f"  flags the current command lines use that vLLM {change.new} lacks: "
                     f"{_listing(change.flags_removed)}" + (" (the chart renders them no more)"
                                                            if change.flags_removed else ""))
        lines.append(f"  tool call parsers removed: {_listing(change.tool_parsers_removed)}; "
                     f"added: {len(change.tool_parsers_added)}")
        lines.append(f"  reasoning parsers removed: {_listing(change.reasoning_parsers_removed)}; "
                     f"added: {len(change.reasoning_parsers_added)}")
        for repository, (old, new) in change.lmcache.items():
            lines.append(f"  LMCache in {repository}: {'yes' if old else 'no'} -> {'yes' if new else 'no'}")
    lines.append("releases:")
    for rel in report.releases:
        state = "ok" if not rel.problems else "WOULD NOT START"
        disabled = "" if rel.installed else " (disabled)"
        lines.append(f"  {rel.release}{disabled} ({rel.file}): {rel.old_tag} -> {rel.new_tag}: {state}")
        for problem in rel.problems:
            lines.append(f"    problem: {problem}")
        for note in rel.notes:
            lines.append(f"    note: {note}")
    for problem in report.across:
        lines.append(f"problem: {problem}")
    if report.edits:
        lines.append("edits" + ("" if report.written else " (not written)") + ":")
        lines += [f"  {edit}" for edit in report.edits]
    if report.golden:
        lines.append(f"golden renders rewritten: {len(report.golden)} file(s) in tests/golden/{report.environment}/")
    return "\n".join(lines)
