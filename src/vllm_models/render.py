"""The render harness: releases come from the real helmfile, manifests from the real helm.

`releases(env)` asks `helmfile -e ENV build` which releases exist, whether each is installed and
which values each gets, in order. `render(release)` runs `helm template` on exactly those values
and returns the parsed documents. Both are cached on disk by a digest of every input (chart
files, values bytes, helm binary, arguments), so an unchanged release is rendered once across
pytest-xdist workers and across runs, and any change to an input renders it again.
"""
from __future__ import annotations

import concurrent.futures
import dataclasses
import functools
import hashlib
import json
import multiprocessing
import os
import re
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, TypeVar

import yaml

from . import toolchain

# Entries are keyed by content (chart files, values bytes, tool binary, arguments), never by where the
# repository lives, so copies of it (the CLI tests', a worktree) can share one cache with
# VLLM_MODELS_RENDER_CACHE.
CACHE_DIR = Path(os.environ.get("VLLM_MODELS_RENDER_CACHE") or toolchain.ROOT / ".render" / "cache")
NAMESPACE_CHART = "llms-namespace"
MODEL_CHART = "vllm-models"
RELEASE_PREFIX = "llms-v2-"


# libyaml's parser with PyYAML's safe constructors: the same objects as yaml.safe_load, about ten
# times faster, which matters because every manifest and values file of a fleet is parsed per run.
FastSafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_yaml(text: str) -> Any:
    """yaml.safe_load through libyaml."""
    return yaml.load(text, Loader=FastSafeLoader)


class ManifestLoader(FastSafeLoader):
    """SafeLoader that reads the plain scalars `=` and `<<` as strings, as Go's YAML (helm, kubectl) does:
    helm's toYaml leaves them unquoted, and PyYAML's SafeLoader has no constructor for them."""


ManifestLoader.add_constructor("tag:yaml.org,2002:value", FastSafeLoader.construct_yaml_str)
ManifestLoader.add_constructor("tag:yaml.org,2002:merge", FastSafeLoader.construct_yaml_str)


CHART_PREFIX = "vllm-models: "  # how the chart's `fail` and `required` messages start, one refusal a line


def _render_error(command, stderr, environment, release, sources) -> "RenderError":
    return RenderError(command, stderr, environment=environment, release=release, sources=sources)


class RenderError(Exception):
    """helm or helmfile refused. str() leads with what the chart says and where (environment, release,
    file, the keys and the files that set them); for anything but the chart's own refusals, the command
    comes last."""

    def __init__(self, command: list[str], stderr: str, *, environment: str = "", release: str = "",
                 sources: Iterable["ValuesSource"] = ()):
        self.command = command
        self.stderr = stderr.strip()
        self.environment = environment
        self.release = release
        self.sources = list(sources)
        super().__init__(str(self))

    def __reduce__(self):
        # A render refused in a worker process (Workers) comes back pickled: rebuild it whole, keyword arguments too.
        return (_render_error, (self.command, self.stderr, self.environment, self.release, tuple(self.sources)))

    @property
    def refusals(self) -> list[str]:
        """The chart's refusals (every one of a release comes in one `fail`, a line each), without its prefix."""
        lines = self.stderr.splitlines()
        for index, line in enumerate(lines):
            _, found, message = line.partition("execution error at (")
            if found and "): " in message:
                first = message.split("): ", 1)[1]
            else:
                _, found, first = line.partition("[INFO] Fail: ")  # helm lint logs the chart's fail here
                if not found:
                    continue
            more = []
            for following in lines[index + 1:]:
                if not following.startswith(CHART_PREFIX):
                    break
                more.append(following)
            return [refusal.strip().removeprefix(CHART_PREFIX) for refusal in [first, *more]]
        return []

    @property
    def reason(self) -> str:
        """The refusal itself: the chart's messages, or helm's own error without its prefixes."""
        refusals = self.refusals
        if len(refusals) == 1:
            return refusals[0]
        if refusals:
            return f"{len(refusals)} refusals:\n" + "\n".join(f"  - {refusal}" for refusal in refusals)
        lines = [line for line in self.stderr.splitlines()
                 if line.strip() and not line.startswith("Use --debug flag")]
        return "\n".join(lines).removeprefix("Error: ").strip() or f"{Path(self.command[0]).name} failed"

    def shown_command(self) -> str:
        """The command, each values file that no longer exists (the render's temporary copy of inline
        values) named by the values it held."""
        shown, values = [], iter(self.sources)
        for previous, argument in zip([""] + self.command, self.command):
            source = next(values, None) if previous == "--values" else None
            shown.append(f"<{source.label}>" if source is not None and not Path(argument).exists() else argument)
        return " ".join(shown)

    def __str__(self) -> str:
        subject = ", ".join(part for part in (f"environment {self.environment}" if self.environment else "",
                                              f"release {self.release}" if self.release else "") if part)
        files = [s.label for s in self.sources if s.path is not None and "/" in s.label]
        if files:
            subject += f" ({files[-1]})"
        lines = [f"{subject}: {self.reason}" if subject else self.reason]
        for key in keys_named_in(self.stderr):
            origin = where_set(self.sources, key)
            if origin:
                lines.append(f"  {key} is set in {origin}")
        if self.sources:
            lines.append("  values files, in merge order: " + ", ".join(source.label for source in self.sources))
        if not (self.refusals and self.sources):  # the lines above say it all, else the command says what ran
            lines.append(f"  {Path(self.command[0]).name} refused: {self.shown_command()}")
        return "\n".join(lines)


@dataclasses.dataclass(frozen=True)
class ValuesSource:
    """One entry of a release's `values:` list in the helmfile, in helm's merge order."""

    label: str  # what a user opens: a repo-relative file, or the helmfile's inline block
    data: dict
    path: Path | None = None  # the file helm reads; None for the helmfile's inline values
    origin: str = ""  # the repo file the user edits to change these values; defaults to the label

    @property
    def edited_file(self) -> str:
        return self.origin or self.label

    def defines(self, key: str) -> bool:
        return lookup(self.data, key, _MISSING) is not _MISSING


@dataclasses.dataclass(frozen=True)
class Release:
    environment: str
    name: str
    namespace: str
    chart: str
    installed: bool
    labels: dict
    sources: tuple[ValuesSource, ...]

    @property
    def category(self) -> str:
        return self.labels.get("category", "")

    @property
    def model_file(self) -> str:
        """The release's own model file (the last file in its values list)."""
        files = [s.label for s in self.sources if s.label.endswith(".yaml") and "/" in s.label]
        return files[-1] if files else ""

    def values(self) -> dict:
        """The merged values helm will see (the chart's defaults excluded)."""
        merged: dict = {}
        for source in self.sources:
            deep_merge(merged, source.data)
        return merged


# Labels the LeaderWorkerSet controller puts on every pod of a group (kubernetes-sigs/lws v0.10.0,
# site/content/en/docs/reference/labels-annotations-and-environment-variables.md): the set's name,
# and the pod's index in its group (0 on the leader). Selectors and policies see the pods as they run.
LWS_NAME_LABEL = "leaderworkerset.sigs.k8s.io/name"
LWS_WORKER_INDEX_LABEL = "leaderworkerset.sigs.k8s.io/worker-index"
WORKLOAD_KINDS = ("Deployment", "LeaderWorkerSet")


@dataclasses.dataclass(frozen=True)
class PodTemplate:
    """One pod template of a workload: `server` (a Deployment's pod), `leader` or `worker` (a group's)."""

    role: str
    template: dict
    labels: dict  # what the running pods carry: the template's labels plus the controller's

    @property
    def spec(self) -> dict:
        return self.template["spec"]

    @property
    def serves(self) -> bool:
        """Whether this pod runs vLLM's API server (a group's workers join the leader and serve nothing)."""
        return self.role != "worker"


@dataclasses.dataclass(frozen=True)
class Workload:
    """The object running the release's vLLM pods: a Deployment (one pod per replica) or a LeaderWorkerSet
    (a group of `size` pods per replica: one leader serving the API and size-1 workers)."""

    object: dict

    @property
    def kind(self) -> str:
        return self.object["kind"]

    @property
    def name(self) -> str:
        return self.object["metadata"]["name"]

    @property
    def spec(self) -> dict:
        return self.object["spec"]

    @property
    def size(self) -> int:
        """Pods per replica."""
        if self.kind == "LeaderWorkerSet":
            return int(self.spec["leaderWorkerTemplate"].get("size", 1))
        return 1

    @property
    def templates(self) -> list[PodTemplate]:
        """Every pod template, the serving one first."""
        if self.kind != "LeaderWorkerSet":
            template = self.spec["template"]
            return [PodTemplate("server", template, dict(template["metadata"].get("labels") or {}))]
        group = self.spec["leaderWorkerTemplate"]
        worker = group["workerTemplate"]
        found = [self._member("leader", group.get("leaderTemplate") or worker, 0)]
        if self.size > 1:
            found.append(self._member("worker", worker, 1))
        return found

    def _member(self, role: str, template: dict, index: int) -> PodTemplate:
        labels = dict(template.get("metadata", {}).get("labels") or {})
        labels.update({LWS_NAME_LABEL: self.name, LWS_WORKER_INDEX_LABEL: str(index)})
        return PodTemplate(role, template, labels)

    @property
    def template(self) -> dict:
        """The pod template that runs the API server: the Deployment's, or the group leader's."""
        return self.templates[0].template

    def container(self, name: str = "vllm") -> dict:
        return next(c for c in self.template["spec"]["containers"] if c["name"] == name)


@dataclasses.dataclass
class Rendered:
    release: Release
    documents: list[dict]
    manifest: str

    def objects(self, kind: str) -> list[dict]:
        return [doc for doc in self.documents if doc.get("kind") == kind]

    def one(self, kind: str) -> dict:
        found = self.objects(kind)
        if len(found) != 1:
            raise AssertionError(
                f"environment {self.release.environment} release {self.release.name}: expected one {kind}, "
                f"rendered {len(found)}")
        return found[0]

    def workloads(self) -> list[Workload]:
        """The objects that run vLLM pods (none for the namespace release)."""
        return [Workload(doc) for doc in self.documents if doc.get("kind") in WORKLOAD_KINDS]

    def workload(self) -> Workload:
        """The one object running the release's vLLM: its Deployment, or its LeaderWorkerSet."""
        found = self.workloads()
        if len(found) != 1:
            raise AssertionError(
                f"environment {self.release.environment} release {self.release.name}: expected one of "
                f"{' or '.join(WORKLOAD_KINDS)}, rendered {len(found)}")
        return found[0]

    def container(self, name: str = "vllm") -> dict:
        """The named container of the pod that serves the API (a group's leader)."""
        return self.workload().container(name)


_MISSING = object()


def image_tag(image: str) -> str:
    """The tag of an image reference: `vllm/vllm-openai:v0.11.0@sha256:...` -> `v0.11.0` (the chart keeps the
    tag beside a digest as the vLLM version); "" when the reference has no tag."""
    name = image.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    return last.rpartition(":")[2] if ":" in last else ""


def chart_default(key: str) -> Any:
    """The chart's own default for a dotted values key (charts/vllm-models/values.yaml)."""
    return lookup(values_data(toolchain.CHART_DIR / "values.yaml"), key)


def lookup(values: Any, key: str, default: Any = None) -> Any:
    """The value at a dotted values key (`deployment.numGPUs`), or `default` when any part is absent."""
    node = values
    for part in split_key(key):
        if not isinstance(node, dict) or part not in node:
            return default
        node = node[part]
    return node


def split_key(key: str) -> list[str]:
    """Split a dotted values key; `resources.limits.nvidia.com/gpu` keeps its resource name whole."""
    if ".nvidia.com/" in key:
        head, _, tail = key.partition(".nvidia.com/")
        return head.split(".") + ["nvidia.com/" + tail]
    return key.split(".")


def keys_named_in(message: str) -> list[str]:
    """Values keys the chart names in its fail messages (`vllm-models: deployment.numGPUs (2) ...`)."""
    # A top-level key (extraEnv, shmSize) has no dot: the chart names it first, right after "vllm-models: ".
    keys = re.findall(r"vllm-models: ([a-z][A-Za-z]*)(?![.A-Za-z/])", message)
    keys += re.findall(r"\b((?:[a-z][A-Za-z]*\.)+nvidia\.com/gpu|(?:[a-z][A-Za-z]*\.)+[a-z][A-Za-z]*)\b", message)
    seen: list[str] = []
    for key in keys:
        if key not in seen and not key.startswith(("vllm-models.", "kubernetes.io")):
            seen.append(key)
    return seen


def where_set(sources: Iterable[ValuesSource], key: str) -> str:
    """Label of the last values source that sets `key` (helm's merge makes the last one win)."""
    label = ""
    for source in sources:
        if source.defines(key):
            label = source.label
    return label


def deep_merge(into: dict, other: dict) -> dict:
    for key, value in other.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            deep_merge(into[key], value)
        else:
            into[key] = value
    return into


def digest(*parts: bytes | str) -> str:
    """One key for an ordered list of inputs (the render cache's keys)."""
    hasher = hashlib.sha256()
    for part in parts:
        hasher.update(hashlib.sha256(part.encode() if isinstance(part, str) else part).digest())
    return hasher.hexdigest()


_TREES: dict[Path, tuple[tuple, bytes]] = {}
RACY_NS = 2_000_000_000  # file times are coarser than edits: a file this fresh may change without a new time


def tree_bytes(root: Path) -> bytes:
    """Every file under a directory, names and contents, in a stable order.

    Every render keys on its chart's tree: the digest is kept per process while no file's name, size,
    inode or time changes, and recomputed whenever a file is younger than RACY_NS (git's "racy" rule)."""
    entries = sorted((os.path.join(folder, name), entry) for folder, _, names in os.walk(root)
                     for name in names for entry in [os.stat(os.path.join(folder, name))])
    files = [Path(path) for path, _ in entries]
    stats = tuple((path, s.st_size, s.st_ino, s.st_mtime_ns, s.st_ctime_ns) for path, s in entries)
    known = _TREES.get(root)
    if known and known[0] == stats:
        return known[1]
    hasher = hashlib.sha256()
    for path in files:
        hasher.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    if stats and time.time_ns() - max(max(s[3], s[4]) for s in stats) > RACY_NS:
        _TREES[root] = (stats, hasher.digest())
    return hasher.digest()


@functools.lru_cache(maxsize=None)
def binary_identity(binary: str) -> bytes:
    stat = os.stat(binary)
    return f"{binary}:{stat.st_size}:{stat.st_mtime_ns}".encode()


MISSING = object()


def cache_load(key: str) -> Any:
    """A cached result, or MISSING. The cache is shared by xdist workers and runs."""
    try:
        return json.loads((CACHE_DIR / f"{key}.json").read_text())
    except (FileNotFoundError, ValueError):
        return MISSING


def cache_store(key: str, value: Any) -> None:
    """Writes are atomic: a race between processes only repeats work."""
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=CACHE_DIR, delete=False, suffix=".tmp") as handle:
        json.dump(value, handle)
    os.replace(handle.name, CACHE_DIR / f"{key}.json")


def cached(key: str, compute: Callable[[], Any]) -> Any:
    """compute() once per key: later calls, in any process, read its result from the cache."""
    value = cache_load(key)
    if value is MISSING:
        value = compute()
        cache_store(key, value)
    return value


def run(command: list[str], **context) -> str:
    """Run a pinned tool with an argument list; a non-zero exit raises RenderError."""
    result = subprocess.run(command, capture_output=True, text=True, cwd=toolchain.ROOT, env=toolchain.tool_env())
    if result.returncode != 0:
        raise RenderError(command, result.stderr or result.stdout, **context)
    return result.stdout


def environments() -> list[str]:
    """Environments, in promotion order, as declared in environments/fleet.yaml."""
    return list(fleet_data()["promotionOrder"])


@functools.lru_cache(maxsize=None)
def fleet_data() -> dict:
    return load_yaml((toolchain.ENVIRONMENTS_DIR / "fleet.yaml").read_text())


# The files helmfile.yaml.gotmpl reads (test_helmfile checks the template reads no other): the
# fleet-wide files and the environment's values. Model files it only lists; helm reads them.
HELMFILE_READS = ("environments/*.yaml", "environments/{env}/values.yaml")


def _helmfile_inputs(env: str) -> str:
    """What `helmfile -e ENV build` depends on: the helmfile, the files it reads (HELMFILE_READS) and the
    names of the files in the environment's folder, whose model files become releases by name. An edit
    inside a model file changes none of these, so it needs no new helmfile run."""
    env_dir = toolchain.ENVIRONMENTS_DIR / env
    read = sorted({path for pattern in HELMFILE_READS for path in toolchain.ROOT.glob(pattern.format(env=env))})
    listing = sorted(str(p.relative_to(env_dir)) for p in env_dir.rglob("*")) if env_dir.exists() else []
    return digest(toolchain.HELMFILE.read_bytes(),
                  *(str(p.relative_to(toolchain.ROOT)).encode() + b"\0" + p.read_bytes() for p in read),
                  "\n".join(listing), binary_identity(toolchain.tool("helmfile")))


def values_data(path: Path) -> dict:
    """A values file's mapping, for messages and merged views; {} when it is not a YAML mapping
    (values_check reports that file by name, and helm refuses it when it renders)."""
    try:
        data = load_yaml(path.read_text())
    except yaml.YAMLError:
        return {}
    return data if isinstance(data, dict) else {}


def releases(env: str, *, include_disabled: bool = False) -> list[Release]:
    """The releases helmfile defines for an environment, in helmfile order."""
    command = [toolchain.tool("helmfile"), "--file", str(toolchain.HELMFILE), "-e", env, "build"]
    key = "helmfile-build-" + digest(_helmfile_inputs(env), " ".join(command[2:]).replace(str(toolchain.ROOT), "<root>"))
    documents = cached(key, lambda: [d for d in yaml.load_all(run(command, environment=env), Loader=FastSafeLoader) if d])
    found = []
    for state in documents:
        for entry in state.get("releases") or []:
            sources = []
            for value in entry.get("values") or []:
                if isinstance(value, str):
                    path = toolchain.ROOT / value
                    sources.append(ValuesSource(value, values_data(path), path))
                else:
                    env_file = f"environments/{env}/values.yaml"
                    sources.append(ValuesSource(f"helmfile.yaml.gotmpl (inline values from {env_file})", value,
                                                origin=env_file))
            release = Release(env, entry["name"], entry.get("namespace", ""), entry["chart"],
                              bool(entry.get("installed", True)), entry.get("labels") or {}, tuple(sources))
            if release.installed or include_disabled:
                found.append(release)
    return found


def release(env: str, name: str) -> Release:
    for candidate in releases(env, include_disabled=True):
        if candidate.name == name:
            return candidate
    raise KeyError(f"environment {env} has no release {name} in helmfile.yaml.gotmpl")


# --- The fleet's releases: which are models, where their keys are set ----------------------------

def at(rel: Release) -> str:
    """How every message names a release: environment, release and the file a user edits."""
    subject = f"environment {rel.environment}, release {rel.name}" if rel.environment else f"release {rel.name}"
    return f"{subject} ({rel.model_file or 'no model file'})"


def where(rendered: Rendered) -> str:
    return at(rendered.release)


def environment_file(env: str) -> str:
    return f"environments/{env}/values.yaml"


def chart_name(rel: Release) -> str:
    return Path(rel.chart).name


def is_model_release(rel: Release) -> bool:
    return chart_name(rel) == MODEL_CHART


def model_releases(env: str, *, include_disabled: bool = False) -> list[Release]:
    return [rel for rel in releases(env, include_disabled=include_disabled) if is_model_release(rel)]


def namespace_release(env: str) -> Release:
    found = [rel for rel in releases(env) if chart_name(rel) == NAMESPACE_CHART]
    if len(found) != 1:
        raise LookupError(f"environment {env}: helmfile.yaml.gotmpl installs {len(found)} releases of "
                          f"charts/{NAMESPACE_CHART}; it must install exactly one "
                          f"(the llms Namespace and its quota)")
    return found[0]


def origin(rel: Release, key: str) -> str:
    """Where a release's effective `key` is set: its model file, else the environment's `global.<key>`."""
    for source in reversed(rel.sources):
        if source.path is not None and lookup(source.data, key):
            return f"{source.label} {key}"
    return f"{environment_file(rel.environment)} global.{key}"


def values_files(rel: Release, tmp: Path) -> list[str]:
    """The release's values as files for helm, in order; inline helmfile values are written to tmp."""
    files = []
    for index, source in enumerate(rel.sources):
        path = source.path
        if path is None:
            path = tmp / f"inline-{index}.yaml"
            path.write_text(json.dumps(source.data, sort_keys=True))  # JSON is YAML, and quicker to write
        files.append(str(path))
    return files


def template_command(rel: Release, values_files: list[str], *, helm: str = "helm4", kube_version: str | None = None) -> list[str]:
    chart = str((toolchain.ROOT / rel.chart).resolve())
    command = [toolchain.tool(helm), "template", rel.name, chart, "--namespace", rel.namespace,
               "--kube-version", kube_version or toolchain.kube_version()]
    for path in values_files:
        command += ["--values", path]
    return command


HELM4_FAIL = re.compile(r'msg="funcMap fail" message=("(?:[^"\\]|\\.)*")')


def lint(chart: str | Path, files: Iterable[str | Path], *, namespace: str, **context) -> str:
    """`helm lint --strict` the chart with these values files; RenderError (with `context`) when it fails.

    helm lint reports the chart's own `fail` and `required` as log lines at INFO level and still exits 0
    (helm v3: "[INFO] Fail: ..."; helm v4: `level=INFO msg="funcMap fail" message="..."`), so those lines
    count as failures here, each written as helm v3 words it.
    """
    command = [toolchain.tool("helm4"), "lint", "--strict", str(chart), "--namespace", namespace,
               "--kube-version", toolchain.kube_version()]
    for file in files:
        command += ["--values", str(file)]
    result = subprocess.run(command, capture_output=True, text=True, cwd=toolchain.ROOT, env=toolchain.tool_env())
    failed = [line if "[INFO] Fail:" in line else f"[INFO] Fail: {json.loads(HELM4_FAIL.search(line).group(1))}"
              for line in result.stderr.splitlines() if "[INFO] Fail:" in line or HELM4_FAIL.search(line)]
    if result.returncode != 0 or failed:
        raise RenderError(command, "\n".join(failed) or result.stdout + result.stderr, **context)
    return result.stdout


def render_values_files(name: str, files: Iterable[str | Path], *, namespace: str = "llms", helm: str = "helm4",
                        kube_version: str | None = None, use_cache: bool = True) -> Rendered:
    """`helm template` the chart with values files outside helmfile (chart examples, bad-values cases), in order.

    The result's release has no environment; its sources are the files, labelled repo-relative.
    """
    sources = []
    for file in files:
        path = Path(file).resolve()
        label = str(path.relative_to(toolchain.ROOT)) if path.is_relative_to(toolchain.ROOT) else str(path)
        sources.append(ValuesSource(label, load_yaml(path.read_text()) or {}, path))
    chart = str(toolchain.CHART_DIR.relative_to(toolchain.ROOT))
    rel = Release("", name, namespace, chart, True, {}, tuple(sources))
    return render(rel, helm=helm, kube_version=kube_version, use_cache=use_cache)


def render(rel: Release, *, helm: str = "helm4", kube_version: str | None = None, use_cache: bool = True) -> Rendered:
    """`helm template` the release with its helmfile values, in order; parsed documents."""
    chart_dir = (toolchain.ROOT / rel.chart).resolve()
    with tempfile.TemporaryDirectory(prefix="vllm-models-values-") as tmp:
        files = values_files(rel, Path(tmp))
        contents = [Path(f).read_bytes() for f in files]
        command = template_command(rel, files, helm=helm, kube_version=kube_version)
        # Paths stay out of the key (helm's output does not depend on them): contents, in order, go in.
        arguments = [c for c in command[1:] if c not in files and c != str(chart_dir)]
        identity = [" ".join(arguments), tree_bytes(chart_dir), binary_identity(command[0]), *contents]

        def compute() -> str:
            return run(command, environment=rel.environment, release=rel.name, sources=rel.sources)

        manifest = cached("helm-template-" + digest(*identity), compute) if use_cache else compute()
    documents = [doc for doc in yaml.load_all(manifest, Loader=ManifestLoader) if doc]
    return Rendered(rel, documents, manifest)


# --- The one fan-out: many releases on every core ---------------------------------------------------

Item = TypeVar("Item")
Result = TypeVar("Result")


class Workers:
    """Runs one function over many items on every core and returns the results in order.

    Forked processes, not threads: what runs per release is mostly Python (one GIL). The first item
    runs in this process, so each forked worker inherits what it warmed (parsed schemas, catalogs,
    compiled validators) instead of building its own. A handful of items run here: forking costs
    more than it saves (the pre-commit path checks one release against cached renders).
    """

    POOL_FROM = 4  # items left after the first one

    def __init__(self) -> None:
        self._pool: concurrent.futures.ProcessPoolExecutor | None = None
        self._warm = False

    def __enter__(self) -> "Workers":
        return self

    def __exit__(self, *exc) -> None:
        if self._pool:
            self._pool.shutdown()

    def map(self, function: Callable[[Item], Result], items: Iterable[Item], *,
            on_result: Callable[[Item], None] | None = None) -> list[Result]:
        """function(item) for each item, in order; `on_result(item)` runs here as each one finishes."""
        results = []
        for item, result in self.imap(function, items):
            results.append(result)
            if on_result:
                on_result(item)
        return results

    def imap(self, function: Callable[[Item], Result], items: Iterable[Item]) -> Iterator[tuple[Item, Result]]:
        """(item, function(item)) for each item, in order, as they finish: the caller works on the first
        results (fleet checks, policy batches) while the workers compute the rest."""
        items = list(items)
        if items and not self._warm:
            yield items[0], function(items[0])
            self._warm = True
            items = items[1:]
        if len(items) >= self.POOL_FROM:
            yield from zip(items, self._processes().map(function, items))
        else:
            yield from ((item, function(item)) for item in items)

    def _processes(self) -> concurrent.futures.ProcessPoolExecutor:
        if self._pool is None:
            self._pool = concurrent.futures.ProcessPoolExecutor(os.cpu_count() or 2,
                                                                mp_context=multiprocessing.get_context("fork"))
        return self._pool


def render_all(rels: Iterable[Release], on_render: Callable[[Release], None] | None = None) -> list[Rendered]:
    """Every release rendered, in order, on every core."""
    with Workers() as workers:
        return workers.map(render, rels, on_result=on_render)


def installed_renders(env: str, on_render: Callable[[Release], None] | None = None) -> list[Rendered]:
    """The environment's installed model releases, rendered."""
    return render_all(model_releases(env), on_render)
