"""Container images for the real node, built locally from pinned inputs, no registry pulled from.

An image is one layer (a tar of files) on an empty OCI base, its config (platform, entrypoint, user) set by
go-containerregistry's `crane` (toolchain.toml group live), and saved as an OCI image layout archive that
`ctr images import --index-name NAME` imports. crane edits a config only in a registry, so the build runs
crane's own in-memory registry on a loopback port for the few seconds it takes; nothing pulls from it later.
Built once per content: the archive's name is the digest of everything that goes into it.

- the pause image (the pod sandbox): kubernetes' own build/pause/linux/pause.c from the pinned
  k8s.io/kubernetes module, compiled static as its Makefile does;
- busybox (Debian's busybox-static, toolchain.toml group live) for the node's own tests.
"""
from __future__ import annotations

import hashlib
import io
import json
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import plane as planes

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
import install_tools  # noqa: E402  (standard library only)

LIVE_CACHE = install_tools.cache_root() / "live"  # the live tier's part of the per-user cache, as e2e/live/build.py's
CACHE = LIVE_CACHE / "images"
STORES = LIVE_CACHE / "containerd"  # the node's image stores (e2e/node.py image_store)
PAUSE_VERSION = "3.10.1"  # k8s.io/kubernetes v1.33.13 build/pause/Makefile TAG
BUSYBOX = "vllm-models.local/busybox:1.35.0"


def layer(files: dict[str, tuple[bytes, int]], links: dict[str, str] = {}) -> bytes:
    """A reproducible layer: every entry root-owned with mtime 0."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        dirs = sorted({str(Path(p).parent) for p in [*files, *links]} - {"."})
        for d in dirs:
            info = tarfile.TarInfo(d)
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            tar.addfile(info)
        for path, (data, mode) in sorted(files.items()):
            info = tarfile.TarInfo(path)
            info.size, info.mode = len(data), mode
            tar.addfile(info, io.BytesIO(data))
        for path, target in sorted(links.items()):
            info = tarfile.TarInfo(path)
            info.type, info.linkname, info.mode = tarfile.SYMTYPE, target, 0o777
            tar.addfile(info)
    return out.getvalue()


def build(bin_dir: Path, name: str, layer_tar: bytes, entrypoint: list[str], user: str = "") -> Path:
    """The OCI layout archive of image `name` (one layer, linux/amd64), from the cache when its inputs match."""
    crane = bin_dir / "crane"
    key = hashlib.sha256(json.dumps([name, entrypoint, user, hashlib.sha256(layer_tar).hexdigest(),
                                     crane.resolve().stat().st_size]).encode()).hexdigest()[:16]
    out = CACHE / f"{name.rsplit('/', 1)[-1].replace(':', '-')}-{key}.tar"
    if out.exists():
        return out
    CACHE.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "layer.tar").write_bytes(layer_tar)
        port = planes.free_ports(1)[0]
        registry = subprocess.Popen([str(crane), "registry", "serve", "--address", f"127.0.0.1:{port}"],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            deadline = time.monotonic() + 30
            while not planes.tcp_ok(port):
                if time.monotonic() > deadline or registry.poll() is not None:
                    raise RuntimeError(f"crane registry serve did not listen on 127.0.0.1:{port}")
                time.sleep(0.1)
            ref = f"127.0.0.1:{port}/{name.split('/', 1)[-1]}"
            run(crane, "append", "--oci-empty-base", "-f", str(work / "layer.tar"), "-t", ref)
            mutate = ["mutate", ref, "-t", ref, "--set-platform", "linux/amd64", "--entrypoint", ",".join(entrypoint)]
            run(crane, *mutate, *(["--user", user] if user else []))
            run(crane, "pull", "--format", "oci", ref, str(work / "layout"))
        finally:
            registry.kill()
            registry.wait()
        partial = out.with_suffix(".partial")
        with tarfile.open(partial, "w") as tar:
            for path in sorted((work / "layout").rglob("*")):
                tar.add(path, arcname=str(path.relative_to(work / "layout")), recursive=False)
        partial.replace(out)
    return out


def run(crane: Path, *args: str) -> None:
    result = subprocess.run([str(crane), *args], capture_output=True, text=True, timeout=300)
    if result.returncode != 0:
        raise RuntimeError(f"crane {' '.join(args[:2])} exited {result.returncode}: {result.stderr.strip()[-2000:]}")


def pause(bin_dir: Path, module_dir: Path) -> tuple[str, Path]:
    """registry.k8s.io/pause's content, built here: pause.c from the pinned module, static, as root-less 65535."""
    source = module_dir / "build" / "pause" / "linux" / "pause.c"
    with tempfile.TemporaryDirectory() as tmp:
        binary = Path(tmp) / "pause"
        result = subprocess.run(["gcc", "-Os", "-Wall", "-Werror", "-static", f"-DVERSION=v{PAUSE_VERSION}",
                                 "-o", str(binary), str(source)], capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError(f"compiling {source} (the pod sandbox's pause) failed; it needs gcc and a static "
                               f"libc (Debian: gcc, libc6-dev):\n{result.stderr.strip()}")
        data = binary.read_bytes()
    name = f"registry.k8s.io/pause:{PAUSE_VERSION}"
    return name, build(bin_dir, name, layer({"pause": (data, 0o755)}), ["/pause"], "65535:65535")


def busybox(bin_dir: Path) -> tuple[str, Path]:
    data = (bin_dir / "image" / "busybox").read_bytes()
    return BUSYBOX, build(bin_dir, BUSYBOX, layer({"bin/busybox": (data, 0o755)}, {"bin/sh": "busybox"}),
                          ["/bin/sh"])
