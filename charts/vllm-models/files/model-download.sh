# vllm-models: fetch a model's weights into MODEL_DIR before vLLM starts (the init container of
# storage.download). POSIX sh: it runs in the AWS CLI image (Amazon Linux), the vLLM image (Ubuntu)
# or any image with sh, find and mkdir. The download command is this script's arguments ("$@"),
# writing into MODEL_DIR.partial; the chart wraps the whole script in `timeout`.
#
# A completed copy carries a marker file holding SOURCE_ID (source and revision): a restart finds
# it and downloads nothing (seed 004, "Use Model Caching": no download again on restart), a changed
# source downloads again, and an interrupted download never counts as complete (the marker is
# written last and the directory moved into place at once). Pods sharing the volume (replicas, a
# group's nodes) download once: the first takes a lock directory, the others wait for its marker; a
# lock older than the time limit (LOCK_STALE_MINUTES) outlived its pod and is taken over, and so is one
# this very pod (POD_UID) took in an earlier attempt: the kubelet restarts an init container only once
# the last attempt is dead, and one killed whole (an OOM kill of its cgroup) never ran its EXIT trap.
set -eu
: "${MODEL_DIR:?}" "${SOURCE_ID:?}" "${LOCK_STALE_MINUTES:?}"
mark="$MODEL_DIR/.vllm-models-complete"
lock="$MODEL_DIR.lock"
partial="$MODEL_DIR.partial"

complete() {
  [ -f "$mark" ] && [ "$(cat "$mark")" = "$SOURCE_ID" ]
}

if complete; then
  echo "vllm-models: $MODEL_DIR holds a complete copy of $SOURCE_ID; nothing to download"
  exit 0
fi
parent="$(dirname "$MODEL_DIR")"
if ! mkdir -p "$parent" 2>/dev/null || [ ! -w "$parent" ]; then
  echo "vllm-models: $parent is not writable by UID $(id -u) GID $(id -g), so $SOURCE_ID cannot be downloaded into $MODEL_DIR; create it writable by that user or group 0 on every node (hostPath: install -d -m 0775 -g 0 $parent) or on the claim" >&2
  exit 1
fi
until mkdir "$lock" 2>/dev/null; do
  if complete; then
    echo "vllm-models: $MODEL_DIR holds a complete copy of $SOURCE_ID (downloaded by $(cat "$lock/owner" 2>/dev/null || echo another pod))"
    exit 0
  fi
  if [ -n "${POD_UID:-}" ] && [ "$(cat "$lock/pod-uid" 2>/dev/null)" = "$POD_UID" ]; then
    echo "vllm-models: taking over $lock, left by an earlier attempt of this pod that was killed; resuming from $partial"
    rm -rf "$lock"
    continue
  fi
  if [ -n "$(find "$lock" -maxdepth 0 -mmin +"$LOCK_STALE_MINUTES" 2>/dev/null)" ]; then
    echo "vllm-models: taking over $lock, older than the download time limit"
    rm -rf "$lock"
    continue
  fi
  echo "vllm-models: $(cat "$lock/owner" 2>/dev/null || echo another pod) is downloading $SOURCE_ID; waiting"
  sleep "${LOCK_POLL_SECONDS:-10}"
done
trap 'rm -rf "$lock"' EXIT
trap 'exit 143' TERM INT
echo "${POD_NAME:-$(hostname)}" > "$lock/owner"
echo "${POD_UID:-}" > "$lock/pod-uid"
if complete; then
  exit 0
fi
mkdir -p "$partial"
echo "vllm-models: downloading $SOURCE_ID into $MODEL_DIR"
"$@"
rm -rf "$partial/.cache"
printf '%s' "$SOURCE_ID" > "$partial/.vllm-models-complete"
rm -rf "$MODEL_DIR"
mv "$partial" "$MODEL_DIR"
echo "vllm-models: $MODEL_DIR now holds a complete copy of $SOURCE_ID"
