"""The pinned toolchain: verified downloads, idempotent setup, real binaries."""
from __future__ import annotations

import os
import subprocess
import sys

from vllm_models import toolchain

INSTALLER = toolchain.ROOT / "scripts" / "install_tools.py"


def run_installer(*args, env=None):
    return subprocess.run([sys.executable, str(INSTALLER), *args], capture_output=True, text=True, env=env)


def test_a_tampered_checksum_stops_setup_with_a_message_naming_the_artifact(tmp_path):
    tools = tmp_path / "tools"
    (tools / "cache").mkdir(parents=True)
    (tools / "cache" / "fake-1.0-py3-none-any.whl").write_bytes(b"not the pinned bytes")
    pins = tmp_path / "toolchain.toml"
    pins.write_text(
        '[[artifact]]\nname = "fake-layer"\nregistry = "pypi"\npackage = "fake"\nversion = "1.0"\n'
        'filename = "fake-1.0-py3-none-any.whl"\nsha256 = "' + "0" * 64 + '"\n'
        '[[artifact.binary]]\ninstall_as = "fake"\nversion = "v1"\nmembers = ["fake"]\nsha256 = "' + "0" * 64 + '"\n')
    result = run_installer("--toolchain", str(pins), "--tools-dir", str(tools))
    assert result.returncode == 2
    assert "checksum mismatch for artifact fake-layer (pypi fake@1.0)" in result.stderr
    assert "expected: " + "0" * 64 + " (toolchain.toml)" in result.stderr
    assert not (tools / "bin" / "fake").exists()


def test_a_second_setup_downloads_nothing():
    # With npm and pip unreachable, any download attempt would fail the run.
    env = dict(os.environ, PATH="/nonexistent")
    result = run_installer(env=env)
    assert result.returncode == 0, result.stderr
    assert "0 artifact(s) installed" in result.stdout


def test_the_installed_binaries_are_the_pinned_versions():
    versions = {binary["install_as"]: binary["version"]
                for artifact in toolchain.pins()["artifact"] for binary in artifact["binary"]}
    for name, flag in (("helm3", "version"), ("helm4", "version"), ("helmfile", "--version")):
        output = subprocess.run([toolchain.tool(name), flag], capture_output=True, text=True).stdout
        assert versions[name].lstrip("v") in output, f"{name}: pinned {versions[name]}, reports {output!r}"
