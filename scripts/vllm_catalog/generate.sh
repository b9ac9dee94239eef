#!/usr/bin/env bash
# Usage: scripts/vllm_catalog/generate.sh VERSION   (e.g. 0.11.0)
# Writes src/vllm_models/data/vllm/vVERSION.json from vLLM's real parser.
set -euo pipefail
VERSION="${1:?usage: $0 VLLM_VERSION (e.g. 0.11.0)}"
VERSION="${VERSION#v}"
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
# shellcheck source=_venv.sh
source "$HERE/_venv.sh"

# A version without its own pinned light deps gets them from its Requires-Dist first.
[[ -f "$HERE/requirements-${VERSION}.txt" ]] || "$HERE/lock.sh" "$VERSION"
ensure_venv "$VERSION"
start=$SECONDS
# Run from the venv dir so nothing in the repo shadows an import.
(cd "$(dirname "$VENV_PY")" && "$VENV_PY" "$HERE/introspect.py" \
    --out "$ROOT/src/vllm_models/data/vllm/v${VERSION}.json")
echo "catalog generated in $((SECONDS - start))s" >&2
