# Sourced by generate.sh, verify.sh and lock.sh: ensure_venv VERSION sets $VENV_PY.
#
# One throwaway venv per vLLM version under ${TMPDIR:-/tmp}. vllm goes in with
# --no-deps: its declared GPU deps (flashinfer, xformers, CUDA kernels, ...)
# cannot run here and the argument parser needs none of them.
#
# Light deps: requirements-<version>.txt (written by lock.sh from that vLLM's
# own Requires-Dist, pinned and hashed; generate.sh and verify.sh run lock.sh
# for a version that has none yet). They go in with --no-deps.
#
# torch: the version the requirements file names (`# torch==X`, vLLM's own
# pin; TORCH_VERSION overrides) comes from PyPI as the CUDA build, ~4 GB
# installed with its nvidia-* wheels. It is installed once per torch version,
# in ${TMPDIR}/vllm-catalog-torch-X, and each vLLM venv that needs it reads it
# through a .pth file (appended to sys.path, so the venv's own packages win).
# Its pure-Python deps (sympy, networkx, ...) are held to the versions of the
# requirements file that first needed that torch.
#
# Every wheel goes through a wheelhouse (${VLLM_CATALOG_WHEELHOUSE}, default
# ${TMPDIR:-/tmp}/vllm-catalog-wheels) and is installed from there with
# --no-index: pip's HTTP cache stays empty behind this machine's index proxy
# (its responses carry no cache headers), so the wheelhouse is what makes a
# second venv fast.
VENV_PYTHON="${VENV_PYTHON:-python3}"
CATALOG_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
WHEELHOUSE="${VLLM_CATALOG_WHEELHOUSE:-${TMPDIR:-/tmp}/vllm-catalog-wheels}"
PIP_FLAGS=(--disable-pip-version-check -q)

requirements_for() {
    local reqs="$CATALOG_DIR/requirements-$1.txt"
    [[ -f "$reqs" ]] || { echo "no $reqs: run scripts/vllm_catalog/lock.sh $1" >&2; return 1; }
    echo "$reqs"
}

torch_for() {
    # TORCH_VERSION, else the `# torch==X` line of the requirements file.
    local pinned
    pinned="$(sed -n 's/^# torch==\([^ ]*\)$/\1/p' "$1" | head -1)"
    echo "${TORCH_VERSION:-${pinned:?$1 names no torch (# torch==X); set TORCH_VERSION}}"
}

wheelhouse_install() {
    # wheelhouse_install PIP ARGS...: install ARGS from the wheelhouse alone; only when a
    # wheel is missing there, fetch ARGS into it (`pip download`, which skips files it
    # has) and try again. A warm wheelhouse so costs no index round trip at all.
    local pip="$1"; shift
    local t=$SECONDS
    if "$pip" "${PIP_FLAGS[@]}" install --no-index --find-links "$WHEELHOUSE" "$@" 2>/dev/null; then
        echo "  from the wheelhouse in $((SECONDS - t))s: $*" >&2
        return
    fi
    "$pip" "${PIP_FLAGS[@]}" download --only-binary=:all: "$@" -d "$WHEELHOUSE"
    echo "  fetched in $((SECONDS - t))s: $*" >&2
    t=$SECONDS
    "$pip" "${PIP_FLAGS[@]}" install --no-index --find-links "$WHEELHOUSE" "$@"
    echo "  installed in $((SECONDS - t))s: $*" >&2
}

ensure_torch() {
    # ensure_torch X REQS: ${TMPDIR}/vllm-catalog-torch-X holds torch X and its deps.
    local torch="$1" reqs="$2"
    TORCH_ENV="${TMPDIR:-/tmp}/vllm-catalog-torch-${torch}"
    if [[ "$(cat "$TORCH_ENV/.complete" 2>/dev/null)" == "torch==${torch}" ]]; then
        echo "reusing $TORCH_ENV" >&2
        return
    fi
    local start=$SECONDS
    rm -rf "$TORCH_ENV"
    "$VENV_PYTHON" -m venv "$TORCH_ENV"
    # The requirements' pins, without hashes, as constraints for torch's own deps.
    local constraints="$TORCH_ENV/constraints.txt"
    sed -n 's/^\([A-Za-z0-9][A-Za-z0-9._-]*==[^ ;\\]*\).*/\1/p' "$reqs" > "$constraints"
    wheelhouse_install "$TORCH_ENV/bin/pip" -c "$constraints" "torch==${torch}"
    echo "torch==${torch}" > "$TORCH_ENV/.complete"
    echo "torch ${torch}: installed in $((SECONDS - start))s ($TORCH_ENV)" >&2
}

ensure_venv() {
    local version="$1"
    local venv="${TMPDIR:-/tmp}/vllm-catalog-${version}"
    local reqs torch
    reqs="$(requirements_for "$version")" || return 1
    torch="$(torch_for "$reqs")"
    mkdir -p "$WHEELHOUSE"
    ensure_torch "$torch" "$reqs"
    # The marker records what was installed, so a changed pin rebuilds.
    local want
    want="vllm==${version} torch==${torch} $(sha256sum "$reqs" | cut -c1-16)"
    if [[ -f "$venv/.complete" && "$(cat "$venv/.complete")" == "$want" ]]; then
        echo "reusing $venv" >&2
    else
        local start=$SECONDS
        rm -rf "$venv"
        "$VENV_PYTHON" -m venv "$venv"
        wheelhouse_install "$venv/bin/pip" --no-deps -r "$reqs"
        wheelhouse_install "$venv/bin/pip" --no-deps "vllm==${version}"
        local site
        site="$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
        "$TORCH_ENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])' \
            > "$site/zz-vllm-catalog-torch.pth"
        echo "$want" > "$venv/.complete"
        echo "vllm ${version}: installed in $((SECONDS - start))s ($venv)" >&2
    fi
    VENV_PY="$venv/bin/python"
}
