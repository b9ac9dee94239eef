#!/usr/bin/env bash
# Usage: scripts/vllm_catalog/lock.sh VERSION   (e.g. 0.33.0)
# Writes scripts/vllm_catalog/requirements-VERSION.txt from that vLLM wheel's
# Requires-Dist (see lock.py). Downloads the vllm wheel once (into the
# wheelhouse _venv.sh uses too) and resolves with uv, kept in a small venv
# under ${TMPDIR:-/tmp}.
set -euo pipefail
VERSION="${1:?usage: $0 VLLM_VERSION (e.g. 0.33.0)}"
VERSION="${VERSION#v}"
HERE="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=_venv.sh
source "$HERE/_venv.sh"
TOOLS="${TMPDIR:-/tmp}/vllm-catalog-locktools"
UV_VERSION=0.13.8
if [[ "$(cat "$TOOLS/.complete" 2>/dev/null)" != "uv==${UV_VERSION}" ]]; then
    rm -rf "$TOOLS"
    "$VENV_PYTHON" -m venv "$TOOLS"
    "$TOOLS/bin/pip" install -q "uv==${UV_VERSION}" "packaging==26.4"
    echo "uv==${UV_VERSION}" > "$TOOLS/.complete"
fi
mkdir -p "$WHEELHOUSE"
"$TOOLS/bin/pip" download -q --no-deps --only-binary=:all: "vllm==${VERSION}" -d "$WHEELHOUSE"
wheel="$(ls "$WHEELHOUSE"/vllm-"${VERSION}"-*x86_64.whl | head -1)"
"$TOOLS/bin/python" "$HERE/lock.py" "$VERSION" "$wheel" "$HERE"
