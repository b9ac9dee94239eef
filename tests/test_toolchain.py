"""The pinned toolchain: verified downloads, idempotent setup, real binaries."""
from __future__ import annotations

import hashlib
import io
import json
import lzma
import os
import subprocess
import sys
import tarfile
from pathlib import Path

from vllm_models import toolchain

INSTALLER = toolchain.ROOT / "scripts" / "install_tools.py"


def run_installer(*args, env=None):
    # Without the project's own .tools/bin (make puts it on PATH): its binaries are at the pinned versions and
    # setup would adopt them as a user's own instead of building what the test means to build.
    env = dict(env if env is not None else os.environ)
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep)
                                  if Path(p or ".").resolve() != toolchain.TOOLS_BIN.resolve())
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


def test_a_second_setup_downloads_and_builds_nothing():
    # Neither npm, pip nor go is reachable on this PATH: any download or build would fail the run.
    # make test sets up the test group (make e2e builds its own group later: not there yet on a fresh clone).
    result = run_installer("--group", "test", env=dict(os.environ, PATH="/nonexistent"))
    assert result.returncode == 0, result.stderr
    assert "toolchain: 0 tool(s) installed or built" in result.stderr
    # and says which conftest, helmfile, promtool, ... it uses: the pinned build, or the user's own
    for tool in [t for t in toolchain.pins()["gotool"] if t["group"] == "test"]:
        assert f"{tool['binary']} {tool['version']} (" in result.stderr, f"setup does not report {tool['binary']}"


def test_the_installed_binaries_are_the_pinned_versions():
    expected = {binary["install_as"]: binary["version"].lstrip("v")
                for artifact in toolchain.pins()["artifact"] for binary in artifact["binary"]}
    for name in ("helm3", "helm4"):
        output = subprocess.run([toolchain.tool(name), "version"], capture_output=True, text=True).stdout
        assert expected[name] in output, f"{name}: pinned {expected[name]}, reports {output!r}"
    for tool in toolchain.pins()["gotool"]:
        if tool["group"] != "test":
            continue
        result = subprocess.run([toolchain.tool(tool["binary"]), *tool["version_command"]], capture_output=True,
                                text=True, env=toolchain.tool_env())
        assert tool["version_expect"] in result.stdout + result.stderr, \
            f"{tool['binary']}: pinned {tool['version']}, reports {result.stdout + result.stderr!r}"


def test_helm_is_helm_v4_the_helm_helmfile_drives():
    assert os.readlink(toolchain.TOOLS_BIN / "helm") == "helm4"
    output = subprocess.run([toolchain.tool("helmfile"), "--help"], capture_output=True, text=True).stdout
    assert "helm" in output


def go_tool_pins(tmp_path, tool: str, go_sum_edit=None, **overrides):
    """A toolchain.toml holding one [[gotool]] of the project's, with its wrapper module beside it."""
    pin = dict(next(t for t in toolchain.pins()["gotool"] if t["name"] == tool), **overrides)
    modules = tmp_path / "tools" / "go" / pin.get("folder", pin["name"])
    modules.mkdir(parents=True)
    source = toolchain.ROOT / "tools" / "go" / pin.get("folder", pin["name"])
    (modules / "go.mod").write_text((source / "go.mod").read_text())
    go_sum = (source / "go.sum").read_text()
    (modules / "go.sum").write_text(go_sum_edit(go_sum) if go_sum_edit else go_sum)
    lines = ["[[gotool]]"] + [f"{key} = {json.dumps(value)}" for key, value in pin.items()]
    (tmp_path / "toolchain.toml").write_text("\n".join(lines) + "\n")
    return tmp_path / "toolchain.toml"


def failure(stderr: str) -> str:
    """Setup's error, after the progress lines it printed (indented) before failing."""
    return "\n".join(line for line in stderr.splitlines() if not line.startswith("  building "))


def shared_go_caches(tools):
    # The project's module cache: the test reads modules already fetched instead of the network, and its
    # build cache (safe to share: go keys every entry by its inputs), so a build links, not compiles. A
    # setup that built nothing (every tool the user's own, or copied in) has neither yet: make them.
    (tools / "go").mkdir(parents=True)
    for cache in ("mod", "cache"):
        project = toolchain.TOOLS_BIN.parent / "go" / cache
        project.mkdir(parents=True, exist_ok=True)
        (tools / "go" / cache).symlink_to(project)
    return tools


def users_own(tmp_path, binary: str, reports: str) -> dict[str, str]:
    """An environment whose PATH starts with the user's own `binary`, which prints `reports` as its version."""
    own = tmp_path / "own"
    own.mkdir()
    (own / binary).write_text(f"#!/bin/sh\necho '{reports}'\n")
    (own / binary).chmod(0o755)
    return dict(os.environ, PATH=f"{own}{os.pathsep}{os.environ['PATH']}")


def test_a_binary_of_the_pinned_version_on_path_is_used_instead_of_building(tmp_path):
    env = users_own(tmp_path, "conftest", "Conftest: 0.71.1")
    own = tmp_path / "own"
    pins = go_tool_pins(tmp_path, "conftest")
    result = run_installer("--toolchain", str(pins), "--tools-dir", str(tmp_path / ".tools"), env=env)
    assert result.returncode == 0, result.stderr
    assert f"conftest: using {own / 'conftest'} (Conftest: 0.71.1, the pinned version) instead of building" \
        in result.stderr
    assert os.readlink(tmp_path / ".tools" / "bin" / "conftest") == str(own / "conftest")


def test_a_binary_of_another_version_on_path_is_not_used(tmp_path):
    env = users_own(tmp_path, "actionlint", "1.7.11")
    pins = go_tool_pins(tmp_path, "actionlint")
    tools = shared_go_caches(tmp_path / ".tools")
    result = run_installer("--toolchain", str(pins), "--tools-dir", str(tools), env=env)
    assert result.returncode == 0, result.stderr
    assert "building actionlint (github.com/rhysd/actionlint@v1.7.12)" in result.stderr
    assert not (tools / "bin" / "actionlint").is_symlink()


def test_a_checksum_mismatch_stops_setup_naming_the_module_and_installs_nothing(tmp_path):
    def tamper(go_sum):
        line = next(l for l in go_sum.splitlines() if l.startswith("github.com/rhysd/actionlint v1.7.12 h1:"))
        return go_sum.replace(line, "github.com/rhysd/actionlint v1.7.12 h1:" + "A" * 43 + "=")
    pins = go_tool_pins(tmp_path, "actionlint", go_sum_edit=tamper)
    tools = shared_go_caches(tmp_path / ".tools")
    result = run_installer("--toolchain", str(pins), "--tools-dir", str(tools))
    assert result.returncode == 2
    message = failure(result.stderr)
    assert message.startswith("vllm-models setup: could not build actionlint (github.com/rhysd/actionlint@v1.7.12): "
                              "`go build` in tools/go/actionlint exited 1; the proxy served other bytes than "
                              "tools/go/actionlint/go.sum pins: review them before changing the pin. Nothing was "
                              "installed."), message
    assert "github.com/rhysd/actionlint@v1.7.12: checksum mismatch" in message.split("The Go toolchain said:")[1]
    assert not list((tools / "bin").iterdir())
    assert not (tools / "stamps" / "go-actionlint").exists()


def test_a_module_version_the_proxy_refuses_stops_setup_with_its_reply(tmp_path):
    unknown = "v1.7.999"
    pins = go_tool_pins(tmp_path, "actionlint", version=unknown,
                        go_sum_edit=lambda s: s.replace("actionlint v1.7.12", f"actionlint {unknown}"))
    go_mod = tmp_path / "tools" / "go" / "actionlint" / "go.mod"
    go_mod.write_text(go_mod.read_text().replace("actionlint v1.7.12", f"actionlint {unknown}"))
    tools = shared_go_caches(tmp_path / ".tools")
    result = run_installer("--toolchain", str(pins), "--tools-dir", str(tools))
    assert result.returncode == 2
    message = failure(result.stderr)
    assert message.startswith(f"vllm-models setup: could not build actionlint (github.com/rhysd/actionlint@{unknown}): "
                              "`go build` in tools/go/actionlint exited 1; the proxy does not serve this version: pin "
                              "one it lists (`go list -m -versions github.com/rhysd/actionlint`)"), message
    assert f"github.com/rhysd/actionlint@{unknown}" in message.split("The Go toolchain said:")[1]
    assert not list((tools / "bin").iterdir())


def deb(members: dict[str, bytes]) -> bytes:
    """A Debian package as dpkg-deb writes it: an ar archive of debian-binary, control and data tarballs (xz)."""
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w") as tar:
        for name, content in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    out = b"!<arch>\n"
    for name, content in (("debian-binary", b"2.0\n"), ("control.tar.xz", lzma.compress(b"")),
                          ("data.tar.xz", lzma.compress(data.getvalue()))):
        out += f"{name:<16}{0:<12}{0:<6}{0:<6}{100644:<8}{len(content):<10}`\n".encode() + content
        out += b"\n" if len(content) % 2 else b""
    return out


def test_a_debian_package_of_the_live_group_installs_its_member_into_a_folder_and_only_for_that_group(tmp_path):
    tools = tmp_path / "tools"
    (tools / "cache").mkdir(parents=True)
    plugin = b"#!/bin/sh\necho bridge\n"
    package = deb({"./usr/lib/cni/bridge": plugin})
    (tools / "cache" / "fake_1.0_amd64.deb").write_bytes(package)
    pins = tmp_path / "toolchain.toml"
    pins.write_text(
        '[[artifact]]\nname = "fake-plugins"\nregistry = "deb"\npackage = "fake"\nversion = "1.0"\n'
        f'filename = "fake_1.0_amd64.deb"\nsha256 = "{hashlib.sha256(package).hexdigest()}"\ngroup = "live"\n'
        '[[artifact.binary]]\ninstall_as = "cni/bridge"\nversion = "1.0"\n'
        f'members = ["data.tar.xz", "./usr/lib/cni/bridge"]\nsha256 = "{hashlib.sha256(plugin).hexdigest()}"\n')
    other = run_installer("--toolchain", str(pins), "--tools-dir", str(tools), "--group", "test")
    assert other.returncode == 0, other.stderr
    assert not (tools / "bin" / "cni" / "bridge").exists(), "setup of the test group installed a live-group package"
    result = run_installer("--toolchain", str(pins), "--tools-dir", str(tools), "--group", "live")
    assert result.returncode == 0, result.stderr
    assert (tools / "bin" / "cni" / "bridge").read_bytes() == plugin
