"""A real node joined to the e2e plane: containerd (runc, the CNI reference plugins), kubelet and kube-proxy.

`join()` starts them with the plane's harness (Plane.spawn: own process group, PDEATHSIG, the
state file), registers one node labelled and tainted like a GPU pool, advertises the pool's GPUs as the
extended resource nvidia.com/gpu (no device exists: a PATCH of the node status, the documented way to
advertise an extended resource) and returns when the node is Ready.

A real node leaves more than processes behind: containerd's shims and the containers outlive containerd
by design, and the host keeps mounts (overlay rootfs, tmpfs volumes, network namespaces), cgroups, a
bridge and kube-proxy's iptables rules. `clean(state)` removes each by what the state file names, and
Plane.stop() calls it; a janitor process (not tied to the harness, waiting for its stdin to close) calls
Plane.stop() when the harness dies without stopping, even by SIGKILL.

Host settings this needs (cgroup v1 hybrid, root): see kubelet_config(). One real node per machine at a time
(the bridge, its subnet and the iptables rules are host-wide).
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import ssl
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import plane as planes

HERE = Path(__file__).resolve().parent
CGROUP_FS = Path("/sys/fs/cgroup")
BRIDGE = "vllmlive0"                # host-wide, one live node per machine
POD_SUBNET = "10.244.250.0/24"     # inside the plane's POD_CIDR, apart from where kwok numbers its pods
NODE_IP = "10.244.250.1"           # the bridge's gateway address: the node's InternalIP, kubelet's and NodePorts' address
PAUSE_IMAGE = "registry.k8s.io/pause:3.10.1"
NAMESPACE = "k8s.io"               # containerd's namespace for the CRI


# ----------------------------------------------------------------------------- PKI and configuration
def client_cert(pki: Path, name: str, subject: str) -> None:
    """A client certificate signed by the plane's CA (the kubelet's node identity, kube-proxy's)."""
    planes.sh("openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", f"{name}.key", cwd=pki)
    (pki / f"{name}.ext").write_text("keyUsage=critical,digitalSignature,keyEncipherment\n"
                                     "extendedKeyUsage=clientAuth\nbasicConstraints=critical,CA:FALSE\n")
    planes.sh("openssl", "req", "-new", "-key", f"{name}.key", "-subj", subject, "-out", f"{name}.csr", cwd=pki)
    planes.sh("openssl", "x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
              "-days", "3650", "-sha256", "-extfile", f"{name}.ext", "-out", f"{name}.crt", cwd=pki)


def containerd_config(root: Path, state: Path, bin_dir: Path, cni_conf: Path) -> str:
    """containerd 1.6 (config version 2): every path under the node's own directories, the CRI on overlayfs
    with runc under the cgroupfs driver (cgroup v1, no systemd as PID 1), network namespaces under the state
    directory (not /var/run/netns) so that cleaning up is removing what is under it."""
    return f"""version = 2
root = "{root}"
state = "{state}"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
                    "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs",
                    "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]
[grpc]
  address = "{state}/containerd.sock"
[ttrpc]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "{root}/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{PAUSE_IMAGE}"
  netns_mounts_under_state_dir = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  disable_apparmor = true
  # no CAP_SYS_RESOURCE on these machines (CapEff 000001fffeffffff): a negative oom_score_adj (the sandbox's
  # -998, a Guaranteed container's -997) fails runc init ("can't get final child's PID from pipe: EOF");
  # containerd raises any lower value to its own
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        BinaryName = "{bin_dir / 'runc'}"
        Root = "{state}/runc"
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "{bin_dir / 'cni'}"
    conf_dir = "{cni_conf}"
    max_conf_num = 1
"""


def cni_config(ipam_dir: Path) -> str:
    """bridge + host-local (+ portmap for hostPorts); containerd adds the loopback plugin itself. No ipMasq:
    pods talk to the host and to each other only, and no NAT rule is left on the host."""
    return json.dumps({"cniVersion": "1.0.0", "name": "vllm-live", "plugins": [
        {"type": "bridge", "bridge": BRIDGE, "isGateway": True, "ipMasq": False, "hairpinMode": True,
         "ipam": {"type": "host-local", "ranges": [[{"subnet": POD_SUBNET, "gateway": NODE_IP}]],
                  "routes": [{"dst": "0.0.0.0/0"}], "dataDir": str(ipam_dir)}},
        {"type": "portmap", "capabilities": {"portMappings": True}}]}, indent=1)


def kubelet_config(base: Path, pki: Path, sock: str, cgroup_root: str, ports: dict, taints: list[dict]) -> str:
    """The settings this machine's kernel needs: cgroup v1 (kubelet 1.33 refuses it unless failCgroupV1 is
    false), no systemd as PID 1 (cgroupfs driver), no swap accounting; the node's pods under their own
    cgroup root so that cleaning up is killing what is in it."""
    return json.dumps({
        "apiVersion": "kubelet.config.k8s.io/v1beta1", "kind": "KubeletConfiguration",
        "address": NODE_IP, "port": ports["kubelet"], "readOnlyPort": 0,
        "healthzBindAddress": "127.0.0.1", "healthzPort": ports["kubelet_healthz"],
        "authentication": {"anonymous": {"enabled": False}, "webhook": {"enabled": True},
                           "x509": {"clientCAFile": str(pki / "ca.crt")}},
        "authorization": {"mode": "Webhook"},
        "containerRuntimeEndpoint": f"unix://{sock}",
        "cgroupDriver": "cgroupfs", "cgroupRoot": cgroup_root, "cgroupsPerQOS": True,
        "enforceNodeAllocatable": ["pods"], "failCgroupV1": False, "failSwapOn": False,
        "clusterDomain": "cluster.local", "resolvConf": "/etc/resolv.conf", "podLogsDir": str(base / "pod-logs"),
        "registerNode": True, "registerWithTaints": taints,
        # a test machine's disk is whatever it is: never evict or collect the imported images
        "evictionHard": {"memory.available": "100Mi", "nodefs.available": "1%", "imagefs.available": "1%",
                         "nodefs.inodesFree": "1%"},
        "imageGCHighThresholdPercent": 100, "imageGCLowThresholdPercent": 99,
        "serializeImagePulls": False, "maxPods": 110,
        # no KUBE-FIREWALL/KUBE-KUBELET-CANARY chains of the kubelet's own: they outlive it on the host, and
        # their one rule guards NodePorts on 127.0.0.1, which kube-proxy does not open here (nodePortAddresses)
        "makeIPTablesUtilChains": False,
        "nodeStatusUpdateFrequency": "5s", "syncFrequency": "10s",
    }, indent=1)


def kube_proxy_config(kubeconfig: Path, node: str, ports: dict) -> str:
    return json.dumps({
        "apiVersion": "kubeproxy.config.k8s.io/v1alpha1", "kind": "KubeProxyConfiguration",
        "clientConnection": {"kubeconfig": str(kubeconfig)}, "hostnameOverride": node, "mode": "iptables",
        "clusterCIDR": planes.POD_CIDR, "bindAddress": "127.0.0.1",
        "healthzBindAddress": f"127.0.0.1:{ports['proxy_healthz']}",
        "metricsBindAddress": f"127.0.0.1:{ports['proxy_metrics']}",
        "nodePortAddresses": [f"{NODE_IP}/32"],
        # 0: leave the host's conntrack table and timeouts as they are (kube-proxy would resize them)
        "conntrack": {"maxPerCore": 0, "min": 0, "tcpEstablishedTimeout": "0s", "tcpCloseWaitTimeout": "0s"},
        "iptables": {"minSyncPeriod": "0s", "syncPeriod": "30s"},
    }, indent=1)


# ----------------------------------------------------------------------------- start
def node_dirs(d: Path) -> tuple[Path, Path]:
    """Where the node of plane directory d keeps its data (containerd's images and snapshots, the kubelet's
    pods and volumes: on disk) and its runtime state (containerd's socket, bundles, network namespaces: under
    /run). Short paths: a unix socket path has at most 107 bytes, which a pytest tmp_path does not leave room
    for (the kubelet's device-plugins/kubelet.sock)."""
    name = "vllm-live-" + hashlib.sha256(str(d).encode()).hexdigest()[:10]
    return Path("/var/lib") / name, Path("/run") / name


def join(plane: planes.Plane, node: str, labels: dict[str, str], taints: list[dict], gpus: int,
         images: dict[str, Path], timeout: float = 120, stores: Path | None = None) -> dict:
    """Start containerd, kubelet and kube-proxy for `plane`, import `images` (name: OCI layout archive, the
    pause image among them; e2e/images.py), and return when node `node` is Ready with `gpus` nvidia.com/gpu advertised; timings go to
    plane.state["timings"]. Stopped (with plane.stop()) and raised when any part does not come up.

    With `stores` (a directory of the per-user cache), the images come from an image store there (see
    image_store()), imported once per machine, instead of from the archives on every start."""
    d, bin_dir, T = plane.dir, plane.bin, plane.state["timings"]
    pki = d / "pki"
    base, run = node_dirs(d)
    conf = d / "node"  # the configuration files stay with the plane's logs, for reading after a failure
    cgroup_root = "/" + run.name
    info = {"name": node, "dir": str(base), "run": str(run), "cgroup_root": cgroup_root, "bridge": BRIDGE,
            "kube_proxy": str(bin_dir / "kube-proxy"), "sysctl": {}}
    for key in ("net/ipv4/ip_forward", "net/bridge/bridge-nf-call-iptables"):
        info["sysctl"][key] = Path("/proc/sys", key).read_text().strip()
    plane.state["node"] = info
    plane.save()
    live: dict[str, subprocess.Popen] = {}
    t0 = time.monotonic()
    try:
        start_janitor(plane)
        for sub in ("containerd", "kubelet", "pod-logs", "cni/ipam"):
            (base / sub).mkdir(parents=True, exist_ok=True)
        (conf / "cni").mkdir(parents=True, exist_ok=True)
        run.mkdir(mode=0o700, exist_ok=True)
        make_cgroup_root(cgroup_root)
        # the gateway address on the bridge before any pod exists: it is the node's IP from the start
        bridge_up()
        Path("/proc/sys/net/bridge/bridge-nf-call-iptables").write_text("1")  # Services between pods on the bridge
        Path("/proc/sys/net/ipv4/ip_forward").write_text("1")

        names = ("kubelet", "kubelet_healthz", "proxy_healthz", "proxy_metrics")
        ports = dict(zip(names, planes.free_ports(len(names))))
        plane.state["ports"].update({k: v for k, v in ports.items() if k != "kubelet"})  # kubelet binds NODE_IP
        client_cert(pki, "kubelet", f"/O=system:nodes/CN=system:node:{node}")
        client_cert(pki, "kube-proxy", "/CN=system:kube-proxy")
        for user in ("kubelet", "kube-proxy"):
            planes.kubeconfig(pki, user, plane.state["server"], d / f"{user}.kubeconfig")

        (conf / "cni" / "10-vllm-live.conflist").write_text(cni_config(base / "cni/ipam"))
        path_env = {"PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}  # the shim, runc
        t_import = time.monotonic()
        if stores and linkable(stores, base):
            store = image_store(plane, stores, images, conf / "cni", live, timeout)
            info["image_store"] = str(store)
            link_store(store, base / "containerd")
            T["images_from"] = "store"
        else:
            T["images_from"] = "archives"
        (conf / "containerd.toml").write_text(containerd_config(base / "containerd", run, bin_dir, conf / "cni"))
        sock = str(run / "containerd.sock")
        info["socket"] = sock
        plane.save()
        live["containerd"] = plane.spawn("containerd", [str(bin_dir / "containerd"), "--config",
                                                        str(conf / "containerd.toml"), "--log-level", "warn"],
                                         env=path_env)
        T["containerd_ready_s"] = round(planes.wait_for(
            "containerd's socket", lambda: ctr(bin_dir, sock, "version", check=False).returncode == 0,
            live, timeout), 2)
        present = set(ctr(bin_dir, sock, "images", "list", "--quiet").stdout.split())
        for name, archive in images.items():
            if name not in present:
                ctr(bin_dir, sock, "images", "import", "--index-name", name, str(archive))
        T["images_import_s"] = round(time.monotonic() - t_import, 2)

        (conf / "kubelet.yaml").write_text(kubelet_config(base, pki, sock, cgroup_root, ports, taints))
        t_kubelet = time.monotonic()
        live["kubelet"] = plane.spawn("kubelet", [
            str(bin_dir / "kubelet"), f"--config={conf / 'kubelet.yaml'}", f"--kubeconfig={d / 'kubelet.kubeconfig'}",
            f"--root-dir={base / 'kubelet'}", f"--cert-dir={base / 'kubelet' / 'pki'}",
            f"--hostname-override={node}", f"--node-ip={NODE_IP}",
            "--node-labels=" + ",".join(f"{k}={v}" for k, v in labels.items()), "--v=1"], env=path_env)
        (conf / "kube-proxy.yaml").write_text(kube_proxy_config(d / "kube-proxy.kubeconfig", node, ports))
        live["kube-proxy"] = plane.spawn("kube-proxy", [str(bin_dir / "kube-proxy"),
                                                        f"--config={conf / 'kube-proxy.yaml'}", "--v=1"])
        T["kubelet_healthz_s"] = round(planes.wait_for(
            "kubelet /healthz", lambda: planes.http_ok(f"http://127.0.0.1:{ports['kubelet_healthz']}/healthz"),
            live, timeout), 2)
        api = plane.state["server"]
        T["node_registered_s"] = round(planes.wait_for(
            f"node {node} registered", lambda: api_get(pki, f"{api}/api/v1/nodes/{node}") is not None,
            live, timeout), 2)
        if gpus:
            api_patch(pki, f"{api}/api/v1/nodes/{node}/status",
                      {"status": {"capacity": {"nvidia.com/gpu": str(gpus)}}})
        T["node_ready_s"] = round(planes.wait_for(
            f"node {node} Ready", lambda: node_ready(pki, api, node, gpus), live, timeout), 2)
        T["kube_proxy_healthz_s"] = round(planes.wait_for(
            "kube-proxy /healthz", lambda: planes.http_ok(f"http://127.0.0.1:{ports['proxy_healthz']}/healthz"),
            live, timeout), 2)
        T["node_total_s"] = round(time.monotonic() - t0, 2)
        T["kubelet_to_ready_s"] = round(time.monotonic() - t_kubelet, 2)
        plane.state["rss_kib_node_at_ready"] = {n: planes.rss_kib(p.pid) for n, p in live.items()}
        plane.save()
        return info
    except BaseException:
        planes.log("node start-up failed: stopping the plane")
        for n in live:
            tail = (d / "logs" / f"{n}.log").read_text(errors="replace").splitlines()[-20:]
            planes.log(f"--- {n}.log (tail)\n" + "\n".join(tail))
        plane.stop()
        raise


# ----------------------------------------------------------------------------- image store
# Importing the vLLM image (a 3.5 GB gzip layer, 6.7 GB and 76,000 files unpacked) costs one core two minutes on
# every start. An image store is a containerd root holding only the imported images, made once per set of
# archives; a node's root starts as hard links to it (files are never written in place: a committed snapshot is
# an overlay lower directory, a blob is read-only content) with its own copies of the databases containerd writes.
STORE_DATABASES = ("io.containerd.metadata.v1.bolt/meta.db", "io.containerd.snapshotter.v1.overlayfs/metadata.db")


def store_key(bin_dir: Path, images: dict[str, Path]) -> str:
    """The name of the store for `images`: containerd's version and every archive's name (each names the digest
    of its inputs: e2e/images.py, e2e/live/build.py)."""
    version = subprocess.run([str(bin_dir / "containerd"), "--version"], capture_output=True, text=True).stdout
    parts = [version.strip(), *sorted(f"{name}={archive.name}:{archive.stat().st_size}" for name, archive in images.items())]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def image_store(plane: planes.Plane, stores: Path, images: dict[str, Path], cni_conf: Path,
                live: dict[str, subprocess.Popen], timeout: float) -> Path:
    """The store of `images` under `stores`, made now when missing: a containerd of its own (no CRI) imports
    the archives into a scratch root, stops, and the root is renamed into place with a record of every file
    (fingerprint()). A store of the same image names but other archives is removed: it was superseded."""
    bin_dir = plane.bin
    final = stores / store_key(bin_dir, images)
    if (final / "fingerprint.json").exists():
        return final
    names = sorted(images)
    for stale in stores.glob(".tmp-*"):
        release(stale)
    tmp = stores / f".tmp-{final.name}.{os.getpid()}"
    state = Path("/run") / f"vllm-live-store-{final.name}"
    info = plane.state["node"]
    info.setdefault("scratch", []).extend([str(tmp), str(state)])  # removed by clean() however this ends
    plane.save()
    started = time.monotonic()
    (tmp / "root").mkdir(parents=True)
    state.mkdir(mode=0o700, exist_ok=True)
    config = tmp / "containerd.toml"
    config.write_text(containerd_config(tmp / "root", state, bin_dir, cni_conf).replace(
        "disabled_plugins = [", 'disabled_plugins = ["io.containerd.grpc.v1.cri", ', 1))
    sock = str(state / "containerd.sock")
    live["containerd-store"] = store_ctr = plane.spawn(
        "containerd-store", [str(bin_dir / "containerd"), "--config", str(config), "--log-level", "warn"])
    planes.wait_for("the image store's containerd", lambda: ctr(bin_dir, sock, "version", check=False).returncode == 0,
                    live, timeout)
    for name in names:
        ctr(bin_dir, sock, "images", "import", "--index-name", name, str(images[name]))
    store_ctr.terminate()  # SIGTERM: containerd closes its databases
    store_ctr.wait(60)
    del live["containerd-store"]
    del plane.state["procs"]["containerd-store"]
    config.unlink()
    (tmp / "names.json").write_text(json.dumps(names))
    (tmp / "fingerprint.json").write_text(json.dumps(fingerprint(tmp / "root")))
    for other in stores.iterdir():
        if other.is_dir() and not other.name.startswith(".") and (other / "names.json").exists() \
                and json.loads((other / "names.json").read_text()) == names:
            shutil.rmtree(other)
    tmp.rename(final)
    shutil.rmtree(state, ignore_errors=True)
    plane.state["timings"]["image_store_built_s"] = round(time.monotonic() - started, 2)
    plane.save()
    return final


def fingerprint(root: Path) -> dict[str, list[int]]:
    """Every file of a store's root but its databases: size and modification time (a write shows in both)."""
    out = {}
    for path in sorted(root.rglob("*")):
        relative = str(path.relative_to(root))
        if relative not in STORE_DATABASES and path.is_file() and not path.is_symlink():
            stat = path.stat()
            out[relative] = [stat.st_size, stat.st_mtime_ns]
    return out


def store_changes(store: Path) -> list[str]:
    """What differs in the store's files from the record made when it was built (a node wrote through a link)."""
    recorded, now = json.loads((store / "fingerprint.json").read_text()), fingerprint(store / "root")
    return sorted(f"{path}: {recorded.get(path)} -> {now.get(path)}" for path in recorded.keys() | now.keys()
                  if recorded.get(path) != now.get(path))


def linkable(stores: Path, base: Path) -> bool:
    """Whether a store under `stores` can be hard-linked into the node's directory `base` (one file system); the
    plane's log says why not."""
    stores.mkdir(parents=True, exist_ok=True)
    if stores.stat().st_dev == base.stat().st_dev:
        return True
    planes.log(f"node: the image stores {stores} are on another file system than {base}: importing the archives")
    return False


def link_store(store: Path, root: Path) -> None:
    """Make `root` the store's root as hard links, with its own copies of the databases containerd writes."""
    root.mkdir(parents=True, exist_ok=True)
    planes.sh("cp", "-a", "--link", f"{store / 'root'}/.", f"{root}/")
    for database in STORE_DATABASES:
        (root / database).unlink()
        shutil.copy2(store / "root" / database, root / database)


def release(directory: Path) -> None:
    """Unmount whatever is mounted under `directory` (an import killed while unpacking), then remove it."""
    unmount_under([directory])
    shutil.rmtree(directory, ignore_errors=True)


def ctr(bin_dir: Path, sock: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run([str(bin_dir / "ctr"), "--address", sock, "--namespace", NAMESPACE, *args],
                            capture_output=True, text=True, timeout=600)
    if check and result.returncode != 0:
        raise RuntimeError(f"ctr {' '.join(args)} exited {result.returncode}: {result.stderr.strip()}")
    return result


def make_cgroup_root(root: str) -> None:
    """The kubelet requires its cgroupRoot to exist in every hierarchy; a new cpuset cgroup starts with no
    CPUs or memory nodes (cgroup v1), so it gets its parent's."""
    for hierarchy in cgroup_hierarchies():
        path = hierarchy / root.lstrip("/")
        path.mkdir(exist_ok=True)
        for name in ("cpuset.cpus", "cpuset.mems"):
            if (path / name).exists() and not (path / name).read_text().strip():
                (path / name).write_text((hierarchy / name).read_text())


def cgroup_hierarchies() -> list[Path]:
    """Every mounted hierarchy: on a hybrid host runc also makes each cgroup in the v2 one (unified/)."""
    if (CGROUP_FS / "cgroup.controllers").exists():  # cgroup v2 only
        return [CGROUP_FS]
    return [p for p in sorted(CGROUP_FS.iterdir()) if p.is_dir() and (p / "cgroup.procs").exists()]


def bridge_up() -> None:
    if subprocess.run(["ip", "link", "show", BRIDGE], capture_output=True).returncode != 0:
        planes.sh("ip", "link", "add", BRIDGE, "type", "bridge")
    subprocess.run(["ip", "addr", "add", f"{NODE_IP}/{POD_SUBNET.split('/')[1]}", "dev", BRIDGE], capture_output=True)
    planes.sh("ip", "link", "set", BRIDGE, "up")


# ----------------------------------------------------------------------------- API
def _ctx(pki: Path) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(pki / "ca.crt"))
    ctx.load_cert_chain(str(pki / "admin.crt"), str(pki / "admin.key"))
    return ctx


def api_get(pki: Path, url: str) -> dict | None:
    try:
        with urllib.request.urlopen(url, context=_ctx(pki), timeout=5) as r:
            return json.loads(r.read())
    except Exception:
        return None


def api_patch(pki: Path, url: str, body: dict) -> dict:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="PATCH",
                                     headers={"Content-Type": "application/merge-patch+json"})
    with urllib.request.urlopen(request, context=_ctx(pki), timeout=10) as r:
        return json.loads(r.read())


def node_ready(pki: Path, api: str, node: str, gpus: int) -> bool:
    n = api_get(pki, f"{api}/api/v1/nodes/{node}")
    if not n:
        return False
    ready = any(c["type"] == "Ready" and c["status"] == "True" for c in n["status"].get("conditions", []))
    return ready and (not gpus or n["status"].get("allocatable", {}).get("nvidia.com/gpu") == str(gpus))


# ----------------------------------------------------------------------------- stop
def start_janitor(plane: planes.Plane) -> None:
    """A process outside the harness's reach (own session, no PDEATHSIG) that waits for its stdin to close,
    which happens when the harness exits however it exits, and then stops the plane unless that was done."""
    p = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), str(plane.dir), str(plane.bin)],
                         stdin=subprocess.PIPE, stdout=open(plane.dir / "logs" / "janitor.log", "ab"),
                         stderr=subprocess.STDOUT, start_new_session=True, cwd=HERE)
    plane.janitor = p  # the harness holds the write end of the pipe for as long as it lives
    plane.state["procs"]["janitor"] = {"pid": p.pid, "pgid": p.pid, "argv": p.args}
    plane.save()


def clean(info: dict) -> list[str]:
    """Remove what the node left on the host; what it did, for the log. Idempotent."""
    done: list[str] = []
    run, base = Path(info["run"]), Path(info["dir"])
    # 1. every process in the node's cgroups: the containers (their pid namespaces die with their init)
    killed = kill_cgroup(info["cgroup_root"])
    if killed:
        done.append(f"killed {killed} container processes")
    # 2. the shims: detached from containerd by design, they name its socket in their argv
    for pid in planes._pids_mentioning(str(run)):
        try:
            os.kill(pid, signal.SIGKILL)
            done.append(f"killed shim {pid}")
        except ProcessLookupError:
            pass
    # 3. a shim's socket lives in /run/containerd/s/<sha256(containerd socket, namespace, id)>
    tasks = run / "io.containerd.runtime.v2.task" / NAMESPACE
    if tasks.is_dir() and info.get("socket"):
        for task in tasks.iterdir():
            digest = hashlib.sha256(os.path.join(info["socket"], NAMESPACE, task.name).encode()).hexdigest()
            for leftover in (Path("/run/containerd/s") / digest,):
                if leftover.exists():
                    leftover.unlink()
                    done.append(f"removed {leftover}")
    # 4. mounts: overlay rootfs, tmpfs and projected volumes, network namespaces; an image store's scratch
    # directories (an import killed while unpacking)
    scratch = [Path(p) for p in info.get("scratch", [])]
    done += [f"unmounted {m}" for m in unmount_under((run, base, *scratch))]
    # 5. cgroups, bridge, kube-proxy's rules, sysctls, the run directory
    removed = remove_cgroups(info["cgroup_root"])
    if removed:
        done.append(f"removed {removed} cgroups")
    if subprocess.run(["ip", "link", "del", info["bridge"]], capture_output=True).returncode == 0:
        done.append(f"deleted bridge {info['bridge']}")
    if Path(info["kube_proxy"]).exists():
        subprocess.run([info["kube_proxy"], "--cleanup"], capture_output=True, timeout=60)
    for key, value in info.get("sysctl", {}).items():
        try:
            Path("/proc/sys", key).write_text(value)
        except OSError:
            pass
    # the directories, unless a mount is left in them: never delete through a mount (a local volume's data)
    for directory in node_directories(info):
        if directory.exists() and not any(m.startswith(f"{directory}/") for m in mount_points()):
            shutil.rmtree(directory, ignore_errors=True)
            done.append(f"removed {directory}")
    return done


def node_directories(info: dict) -> list[Path]:
    """Every directory the node made on the host: its run and data directories, an image store's scratch
    directories, and what its workloads used (host_dirs: hostPath model directories, local volumes)."""
    return [Path(info["run"]), Path(info["dir"]), *map(Path, info.get("scratch", [])), *map(Path, info.get("host_dirs", []))]


def unmount_under(directories) -> list[str]:
    """Lazily unmount every mount at or under `directories`, deepest first; the mount points unmounted."""
    mounts = [m for m in mount_points() if any(m == str(p) or m.startswith(f"{p}/") for p in directories)]
    return [m for m in sorted(mounts, key=len, reverse=True)
            if subprocess.run(["umount", "--lazy", m], capture_output=True).returncode == 0]


def kill_cgroup(root: str, timeout: float = 10) -> int:
    killed = 0
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pids = {pid for h in cgroup_hierarchies() for pid in cgroup_pids(h / root.lstrip("/"))}
        if not pids:
            break
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
                killed += 1
            except ProcessLookupError:
                pass
        time.sleep(0.2)
    return killed


def cgroup_pids(path: Path) -> list[int]:
    if not path.is_dir():
        return []
    out = []
    for procs in path.rglob("cgroup.procs"):
        try:
            out += [int(x) for x in procs.read_text().split()]
        except OSError:
            pass
    return out


def remove_cgroups(root: str) -> int:
    removed = 0
    for h in cgroup_hierarchies():
        top = h / root.lstrip("/")
        if not top.is_dir():
            continue
        for path in sorted((p for p in [top, *top.rglob("*")] if p.is_dir()), key=lambda p: len(p.parts), reverse=True):
            try:
                path.rmdir()
                removed += 1
            except OSError:
                pass
    return removed


def mount_points() -> list[str]:
    out = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        out.append(line.split()[4].replace("\\040", " "))
    return out


def leftovers(info: dict) -> list[str]:
    """What of the node is still on the host: container processes, shims, mounts, cgroups, the bridge."""
    run, base = Path(info["run"]), Path(info["dir"])
    found = [f"container process {pid}" for pid in sorted({pid for h in cgroup_hierarchies()
                                                            for pid in cgroup_pids(h / info["cgroup_root"].lstrip("/"))})]
    found += [f"process {pid} naming {run}" for pid in planes._pids_mentioning(str(run))]
    found += [f"mount {m}" for m in mount_points()
              if any(m.startswith(f"{p}/") for p in (run, base, *info.get("scratch", [])))]
    found += [f"cgroup {h / info['cgroup_root'].lstrip('/')}" for h in cgroup_hierarchies()
              if (h / info["cgroup_root"].lstrip("/")).exists()]
    if subprocess.run(["ip", "link", "show", info["bridge"]], capture_output=True).returncode == 0:
        found.append(f"bridge {info['bridge']}")
    found += [f"directory {p}" for p in node_directories(info) if p.exists()]
    return found


def _janitor(d: Path, bin_dir: Path) -> None:
    sys.stdin.buffer.read()  # returns when the harness closed the pipe: it stopped or it died
    state = json.loads((d / "state.json").read_text())
    if not state.get("stopped"):
        planes.log("the harness went away without stopping the plane: stopping it")
        planes.Plane(d, bin_dir, tie_to_parent=False).stop()


if __name__ == "__main__":
    _janitor(Path(sys.argv[1]), Path(sys.argv[2]))
