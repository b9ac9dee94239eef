#!/usr/bin/env python3
"""Install the pinned toolchain (toolchain.toml) into .tools/bin, verifying every digest.

Standard library only: this runs before the project's virtual environment exists.
Idempotent: an artifact whose pin is unchanged and whose binaries are present is skipped
without touching the network, so a second run takes well under a second.
"""
from __future__ import annotations

import argparse
import base64
import hashlib
import io
import json
import os
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


def install(toolchain_path: Path, tools_dir: Path) -> int:
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
    # helmfile v0.166 drives the first `helm` on PATH and panics on helm v4's version string.
    helm = bindir / "helm"
    if not helm.is_symlink() or os.readlink(helm) != "helm3":
        helm.unlink(missing_ok=True)
        helm.symlink_to("helm3")
    return installed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--toolchain", type=Path, default=ROOT / "toolchain.toml")
    parser.add_argument("--tools-dir", type=Path, default=ROOT / ".tools")
    args = parser.parse_args()
    try:
        installed = install(args.toolchain, args.tools_dir)
    except SetupError as error:
        print(f"vllm-models setup: {error}", file=sys.stderr)
        return 2
    # stderr: `make render ENV=x > out.yaml` must leave only manifests in out.yaml.
    print(f"toolchain: {installed} artifact(s) installed, the rest already up to date ({args.tools_dir / 'bin'})",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
