"""Serve the tiny model from the vLLM image without a node: the image's layers unpacked, run in a
private mount and PID namespace (chroot, as root's `unshare`), the way the chart runs it — UID 2000
GID 0, the root filesystem read-only, writable HOME, /tmp and a sized /dev/shm — and ask it what the
live tests ask: /health, /v1/models, a completion, a chat completion. Prints the seconds to /health
and the server's RSS. A check of the image and the model, not of the chart (make live is that).

    python3.11 e2e/live/smoke.py IMAGE MODEL_DIR [--port 8000] [--shm 256m] [-- VLLM_SERVE_ARGS...]

IMAGE is the image's tarball (build.py vllm-image), or a root filesystem directory of it (its
environment then from build.py's recipe), served in place and left as it was.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import build


def unpack(image: Path, into: Path) -> dict:
    """The image's layers (a tar of an OCI layout, or of `docker save`), extracted with owners and
    modes as packed; returns its config."""
    with tarfile.open(image) as outer:
        names = set(outer.getnames())

        def read(name: str) -> bytes:
            return outer.extractfile(name).read()

        def blob(digest: str) -> str:
            return next(n for n in (f"blobs/{digest.replace(':', '/')}", f"./blobs/{digest.replace(':', '/')}")
                        if n in names)

        if "manifest.json" in names:
            manifest = json.loads(read("manifest.json"))[0]
            layers, config = manifest["Layers"], manifest["Config"]
        else:
            index = json.loads(read("index.json" if "index.json" in names else "./index.json"))
            manifest = json.loads(read(blob(index["manifests"][0]["digest"])))
            layers = [blob(layer["digest"]) for layer in manifest["layers"]]
            config = blob(manifest["config"]["digest"])
        for layer in layers:
            with tarfile.open(fileobj=outer.extractfile(layer), mode="r|*") as inner:
                inner.extractall(into, numeric_owner=True, filter="fully_trusted")
        return json.loads(read(config))["config"]


def call(url: str, body: dict | None = None, timeout: float = 120) -> tuple[int, str]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def rss_mib(pid: int) -> int:
    """Resident memory of the process tree under pid (the API server and its engine core)."""
    total = 0
    out = subprocess.run(["ps", "-o", "pid=,ppid=,rss=", "-e"], capture_output=True, text=True).stdout
    rows = [tuple(map(int, line.split())) for line in out.splitlines()]
    tree, grew = {pid}, True
    while grew:
        grew = False
        for child, parent, _ in rows:
            if parent in tree and child not in tree:
                tree.add(child)
                grew = True
    total = sum(rss for child, _, rss in rows if child in tree)
    return total // 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("image", type=Path)
    parser.add_argument("model", type=Path)
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--shm", default="256m")
    parser.add_argument("--timeout", type=int, default=600)
    argv = sys.argv[1:]
    extra = argv[argv.index("--") + 1:] if "--" in argv else []  # more `vllm serve` arguments, e.g. --enforce-eager
    args = parser.parse_args(argv[:len(argv) - len(extra) - (1 if extra or "--" in argv else 0)])
    work = Path(tempfile.mkdtemp(prefix="vllm-live-smoke-"))
    if args.image.is_dir():
        root = args.image
        env = build.image_env(build.IMAGES["vllm"])
    else:
        root = work / "rootfs"
        started = time.monotonic()
        config = unpack(args.image, root)
        print(f"smoke: unpacked {args.image.name} in {time.monotonic() - started:.0f} s", flush=True)
        env = {k: v for k, v in (e.split("=", 1) for e in config.get("Env", []))}
    env |= {"HOME": "/home/vllm", "USER": "vllm", "VLLM_CPU_KVCACHE_SPACE": "1"}
    mounts = " && ".join([
        'mount --bind "$R" "$R"', 'mount -t proc proc "$R/proc"', 'mount -t sysfs -o ro sysfs "$R/sys"',
        'mount -t tmpfs -o size=16m tmpfs "$R/dev"',
        *[f'touch "$R/dev/{d}" && mount --bind /dev/{d} "$R/dev/{d}"' for d in ("null", "zero", "urandom", "random")],
        f'mkdir -p "$R/dev/shm" && mount -t tmpfs -o size={args.shm},mode=1777 tmpfs "$R/dev/shm"',
        'mount -t tmpfs -o mode=1777 tmpfs "$R/tmp"',
        'mkdir -p "$R/home/vllm" "$R/models/tiny" && mount -t tmpfs -o mode=0770,uid=2000,gid=0 tmpfs "$R/home/vllm"',
        f'mount --bind -o ro {args.model} "$R/models/tiny"',
        # as the kubelet does: the node's /etc/hosts and resolv.conf (localhost must resolve)
        *[f'touch "$R/etc/{f}" && mount --bind -o ro /etc/{f} "$R/etc/{f}"' for f in ("hosts", "resolv.conf")],
        'mount -o remount,bind,ro "$R"',
    ])
    serve = ["vllm", "serve", "/models/tiny", "--served-model-name", "tiny", "--port", str(args.port),
             "--max-model-len", "512", "--dtype", "float32", *extra]
    script = f'{mounts} && exec chroot --userspec=2000:0 "$R" env -i {" ".join(f"{k}={v}" for k, v in env.items())} ' \
             + " ".join(serve)
    log = (work / "serve.log").open("w")
    process = subprocess.Popen(["unshare", "--mount", "--pid", "--fork", "--propagation", "private",
                                "env", f"R={root}", "/bin/sh", "-euc", script],
                               stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{args.port}"
    ok = True
    try:
        started = time.monotonic()
        while True:
            if process.poll() is not None:
                print((work / "serve.log").read_text()[-4000:])
                sys.exit(f"smoke: vllm serve exited {process.returncode} before /health answered")
            try:
                if call(f"{base}/health", timeout=2)[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() - started > args.timeout:
                sys.exit(f"smoke: no /health 200 within {args.timeout} s")
            time.sleep(1)
        print(f"smoke: /health 200 after {time.monotonic() - started:.0f} s; RSS {rss_mib(process.pid)} MiB",
              flush=True)
        checks = {
            "/v1/models": call(f"{base}/v1/models"),
            "/v1/completions": call(f"{base}/v1/completions",
                                    {"model": "tiny", "prompt": "The model serves", "max_tokens": 16}),
            "/v1/chat/completions": call(f"{base}/v1/chat/completions",
                                         {"model": "tiny", "max_tokens": 16,
                                          "messages": [{"role": "user", "content": "hello world"}]}),
            "/metrics": call(f"{base}/metrics"),
        }
        for path, (status, body) in checks.items():
            ok &= status == 200
            print(f"smoke: {path} {status} {body[:300]!r}", flush=True)
        ok &= '"tiny"' in checks["/v1/models"][1]
        print(f"smoke: RSS after requests {rss_mib(process.pid)} MiB", flush=True)
    finally:
        stopped = time.monotonic()
        if process.poll() is None:  # vLLM may have exited on its own (a bad argument)
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        print(f"smoke: exited {process.returncode} {time.monotonic() - stopped:.1f} s after SIGTERM; "
              f"log {work / 'serve.log'}", flush=True)
        if root != args.image:
            shutil.rmtree(root, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
