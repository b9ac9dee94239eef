#!/usr/bin/env bash
# Usage: scripts/vllm_catalog/verify.sh VERSION ARGS_JSON
# Full check: parses every release's args with vLLM VERSION's real parser.
# ARGS_JSON maps release id -> container args (optionally led by vllm serve).
set -euo pipefail
VERSION="${1:?usage: $0 VLLM_VERSION ARGS_JSON}"
ARGS_JSON="${2:?usage: $0 VLLM_VERSION ARGS_JSON}"
VERSION="${VERSION#v}"
HERE="$(cd "$(dirname "$0")" && pwd)"
ARGS_JSON="$(cd "$(dirname "$ARGS_JSON")" && pwd)/$(basename "$ARGS_JSON")"
# shellcheck source=_venv.sh
source "$HERE/_venv.sh"

# A version without its own pinned light deps gets them from its Requires-Dist first.
[[ -f "$HERE/requirements-${VERSION}.txt" ]] || "$HERE/lock.sh" "$VERSION"
ensure_venv "$VERSION"
cd "$(dirname "$VENV_PY")"
exec "$VENV_PY" "$HERE/verify_args.py" "$ARGS_JSON"
