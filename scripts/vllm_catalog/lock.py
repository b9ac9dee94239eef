#!/usr/bin/env python3
"""Write requirements-<version>.txt: the light deps of one vLLM version, pinned and hashed.

Usage (lock.sh runs it inside a pip-tools venv):

    lock.py VERSION WHEEL_OR_METADATA OUT_DIR

The list is derived from that vLLM wheel's own Requires-Dist, not found by
trial: every requirement that applies to CPython 3.11 on Linux x86_64 without
extras is kept, except the GPU/kernel packages matched by HEAVY below (the
argument parser imports none of them, and most cannot run without a GPU).
torch is taken at the exact version vLLM pins (`torch==X` in Requires-Dist).
The left-out requirements stay as constraints, so a light package that pulls
one in (xgrammar -> torch, apache-tvm-ffi) gets the version vLLM pins.
`uv pip compile` then resolves and hashes the whole closure (it reads hashes
from the index and metadata by range requests: pip-compile downloaded ~10 GB
of every platform's wheels to hash them, since this index serves no JSON API); torch and what only
the CUDA torch wheel itself brings (nvidia-*, triton, cuda-*) are dropped from
the output, because _venv.sh installs torch on its own, after the light deps.

Requires-Dist leaves most packages unbounded, so resolving today can pick a
release newer than the vLLM version knew (transformers 5 for vLLM 0.11): the
resolution only sees releases uploaded before that vLLM wheel was
(--exclude-newer). An optional caps-<version>.txt beside this file adds upper bounds (as pip
constraints, one per line, with a comment saying why); the first line of the
output names every cap used.
"""
from __future__ import annotations

import email.parser
import json
import re
import subprocess
import sys
import tempfile
import urllib.request
import zipfile
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

HERE = Path(__file__).resolve().parent
UV = str(Path(sys.executable).with_name("uv"))
INDEX = "https://pypi.org/simple"

# GPU kernels, CUDA runtimes and media codecs: never imported to build the parser.
HEAVY = re.compile(
    r"^(torch|torchaudio|torchvision|torchcodec|triton|xformers|ray|cupy.*|"
    r"flashinfer.*|apache-tvm-ffi|tilelang|nvidia-.*|cuda-.*|nvtx|pynvvideocodec|"
    r"fastsafetensors|instanttensor|quack-kernels|tokenspeed-mla|humming-kernels|"
    r"deep-gemm|deep-ep|vllm-flash-attn|flash-attn.*|intel-extension-for-pytorch|"
    r"zentorch|b12x|helion)$")
# What `pip install torch==X` brings that is not a plain Python package.
TORCH_SIDE = re.compile(r"^(torch|triton|nvidia-.*|cuda-.*)$")

# The machine every venv is made on: the project's CI and development machines run CPython 3.11.7 on x86-64 Linux.
ENV = {**default_environment(), "python_version": "3.11", "python_full_version": "3.11.7",
       "platform_machine": "x86_64", "sys_platform": "linux", "platform_system": "Linux",
       "implementation_name": "cpython", "platform_python_implementation": "CPython"}


def read_metadata(path: Path) -> email.message.Message:
    if path.suffix == ".whl":
        with zipfile.ZipFile(path) as whl:
            name = next(n for n in whl.namelist() if n.endswith(".dist-info/METADATA"))
            text = whl.read(name).decode()
    else:
        text = path.read_text()
    return email.parser.Parser().parsestr(text, headersonly=True)


def light_requirements(meta) -> tuple[list[str], str, list[str]]:
    """(kept requirement strings, torch version, dropped names) for ENV without extras."""
    kept, dropped, torch = [], [], None
    for line in meta.get_all("Requires-Dist") or []:
        req = Requirement(line)
        if req.marker is not None and not req.marker.evaluate({**ENV, "extra": ""}):
            continue
        name = canonicalize_name(req.name)
        if name == "torch":
            pins = [s.version for s in req.specifier if s.operator == "=="]
            torch = pins[0] if pins else None
        req.marker = None
        if HEAVY.match(name):
            req.extras = set()
            dropped.append(str(req))  # still a constraint: a light package may pull it in
            continue
        kept.append(str(req))
    if torch is None:
        sys.exit("vLLM's Requires-Dist pins no torch==X; set one by hand")
    return kept, torch, dropped


def upload_time(version: str) -> str:
    """When the vllm VERSION wheel for Linux x86_64 was uploaded (PEP 700 simple API)."""
    request = urllib.request.Request(f"{INDEX}/vllm/", headers={"Accept": "application/vnd.pypi.simple.v1+json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        files = json.load(response)["files"]
    times = [f["upload-time"] for f in files
             if f["filename"].startswith(f"vllm-{version}-") and f["filename"].endswith("x86_64.whl")]
    if not times:
        sys.exit(f"no upload time for a vllm {version} x86_64 wheel on {INDEX}")
    return min(times)


def strip_blocks(text: str, drop) -> tuple[str, list[str]]:
    """Drop `name==v \\` + hash lines + `# via` lines of packages matching `drop`."""
    out, removed, skipping = [], [], False
    for line in text.splitlines():
        head = re.match(r"^([A-Za-z0-9_.\-]+)==(\S+)", line)
        if head:
            skipping = bool(drop.match(canonicalize_name(head.group(1))))
            if skipping:
                removed.append(f"{head.group(1)}=={head.group(2)}")
        if not skipping:
            out.append(line)
    return "\n".join(out) + "\n", removed


def main() -> int:
    version, source, out_dir = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    meta = read_metadata(source)
    if meta["Version"] != version:
        sys.exit(f"{source} is vllm {meta['Version']}, not {version}")
    kept, torch, dropped = light_requirements(meta)
    caps_file = HERE / f"caps-{version}.txt"
    caps = [l.split("#")[0].strip() for l in caps_file.read_text().splitlines()] if caps_file.exists() else []
    caps = [c for c in caps if c]
    cutoff = upload_time(version)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "requirements.in").write_text("\n".join(kept) + "\n")
        (tmp / "constraints.txt").write_text("\n".join([*dropped, *caps]) + "\n")
        subprocess.run(
            [UV, "pip", "compile", "--quiet", "--generate-hashes", "--no-header", "--no-annotate",
             "--python-version", "3.11", "--python-platform", "x86_64-manylinux_2_28",
             "--exclude-newer", cutoff, "--no-config",
             "-c", str(tmp / "constraints.txt"),
             "-o", str(tmp / "out.txt"), str(tmp / "requirements.in")],
            check=True)
        body, removed = strip_blocks((tmp / "out.txt").read_text(), TORCH_SIDE)
    header = [
        f"# Light deps of vllm=={version} for the catalog venv (scripts/vllm_catalog/_venv.sh).",
        f"# Generated by `scripts/vllm_catalog/lock.sh {version}` from the wheel's Requires-Dist",
        "# (CPython 3.11, Linux x86_64, no extras), resolved and hashed by `uv pip compile` against",
        f"# the releases PyPI had when vllm {version} was uploaded (--exclude-newer {cutoff}).",
        "# Installed with --no-deps, before torch. Do not edit: change lock.py or caps-<version>.txt.",
        f"# torch=={torch}",
        f"# caps: {', '.join(caps) if caps else 'none'}",
        f"# left out (GPU/kernels, not needed by the parser): {', '.join(sorted(dropped)) or 'none'}",
        f"# left to the torch install: {', '.join(removed) or 'none'}",
    ]
    out = out_dir / f"requirements-{version}.txt"
    out.write_text("\n".join(header) + "\n" + body)
    print(f"wrote {out}: {body.count('==')} pinned packages, torch=={torch}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
