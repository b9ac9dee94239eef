# Sourced by generate.sh and verify.sh: ensure_venv VERSION sets $VENV_PY.
#
# One throwaway venv per vLLM version under ${TMPDIR:-/tmp}. vllm goes in with
# --no-deps: its declared deps (CUDA torch 2.8, xformers, ray, ...) cannot be
# had here and the argument parser needs none of them. torch is installed
# first and alone so pip never resolves another torch.
TORCH_VERSION="${TORCH_VERSION:-2.13.0}"
VENV_PYTHON="${VENV_PYTHON:-python3}"
CATALOG_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

ensure_venv() {
    local version="$1"
    local venv="${TMPDIR:-/tmp}/vllm-catalog-${version}"
    local reqs="$CATALOG_DIR/requirements-light.txt"
    [[ -f "$CATALOG_DIR/requirements-${version}.txt" ]] && reqs="$CATALOG_DIR/requirements-${version}.txt"
    # The marker records what was installed, so a changed pin rebuilds.
    local want
    want="vllm==${version} torch==${TORCH_VERSION} $(sha256sum "$reqs" | cut -c1-16)"
    if [[ -f "$venv/.complete" && "$(cat "$venv/.complete")" == "$want" ]]; then
        echo "reusing $venv" >&2
    else
        local start=$SECONDS
        rm -rf "$venv"
        "$VENV_PYTHON" -m venv "$venv"
        "$venv/bin/pip" install -q "torch==${TORCH_VERSION}"
        "$venv/bin/pip" install -q --no-deps -r "$reqs"
        "$venv/bin/pip" install -q --no-deps "vllm==${version}"
        echo "$want" > "$venv/.complete"
        echo "installed $venv in $((SECONDS - start))s" >&2
    fi
    VENV_PY="$venv/bin/python"
}
