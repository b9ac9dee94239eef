"""A real Kubernetes control plane as plain processes on loopback, with kwok's simulated nodes.

etcd, kube-apiserver, kube-controller-manager and kube-scheduler (built from k8s.io/kubernetes at the
chart's Kubernetes minor by `make e2e`, toolchain.toml group e2e) and kwok, which turns Node objects
annotated `kwok.x-k8s.io/node: fake` into Ready nodes and the pods scheduled onto them into Running,
Ready pods. `up(dir)` starts everything on free loopback ports and returns when the API server,
controllers and scheduler are healthy; `Plane.stop()` stops them.

Every component runs in its own session/process group (start_new_session=True); its pgid is
written to DIR/state.json the moment it starts, so `down` (or the failure path of `up`, or the
finally/signal handler of `run`) can SIGTERM then SIGKILL each group. In `run` mode each child also
gets PR_SET_PDEATHSIG=SIGKILL, so even a SIGKILLed harness takes its children with it.
Ports are random free loopback ports; nothing binds a non-loopback address.
Only the Python standard library and the `openssl` CLI are used.
"""
from __future__ import annotations

import base64
import ctypes
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_BIN = HERE.parent / ".tools" / "bin"
STAGES = HERE / "kwok" / "stages.yaml"
SERVICE_CIDR = "10.96.0.0/16"
SERVICE_IP = "10.96.0.1"
POD_CIDR = "10.244.0.0/16"
SA_ISSUER = "https://kubernetes.default.svc.cluster.local"


# ----------------------------------------------------------------------------- helpers
def free_ports(n: int) -> list[int]:
    """n distinct free loopback ports (all sockets held open until every port is chosen)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def sh(*args: str, cwd: Path | None = None) -> None:
    subprocess.run(args, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def log(msg: str) -> None:
    print(f"[plane {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------- PKI
def make_pki(pki: Path) -> None:
    """CA, apiserver serving cert, client certs, service-account key pair (EC P-256, openssl CLI)."""
    pki.mkdir(parents=True, exist_ok=True)

    def key(name: str) -> None:
        sh("openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
           "-out", f"{name}.key", cwd=pki)

    key("ca")
    sh("openssl", "req", "-x509", "-new", "-key", "ca.key", "-sha256", "-days", "3650",
       "-subj", "/CN=vllm-models-e2e-ca", "-out", "ca.crt", cwd=pki)

    def leaf(name: str, subj: str, usage: str, san: str | None = None) -> None:
        key(name)
        ext = ["keyUsage=critical,digitalSignature,keyEncipherment", f"extendedKeyUsage={usage}",
               "basicConstraints=critical,CA:FALSE"]
        if san:
            ext.append(f"subjectAltName={san}")
        (pki / f"{name}.ext").write_text("\n".join(ext) + "\n")
        sh("openssl", "req", "-new", "-key", f"{name}.key", "-subj", subj, "-out", f"{name}.csr", cwd=pki)
        sh("openssl", "x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
           "-CAcreateserial", "-days", "3650", "-sha256", "-extfile", f"{name}.ext",
           "-out", f"{name}.crt", cwd=pki)

    leaf("apiserver", "/CN=kube-apiserver", "serverAuth",
         "DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,"
         f"DNS:kubernetes.default.svc.cluster.local,IP:127.0.0.1,IP:{SERVICE_IP}")
    leaf("admin", "/O=system:masters/CN=kubernetes-admin", "clientAuth")
    leaf("controller-manager", "/CN=system:kube-controller-manager", "clientAuth")
    leaf("scheduler", "/CN=system:kube-scheduler", "clientAuth")
    # kwok patches node/pod status, node leases and deletes pods: simplest is system:masters.
    leaf("kwok", "/O=system:masters/CN=kwok-controller", "clientAuth")
    # the API server's identity towards a real kubelet (e2e/node.py): logs, exec, port-forward
    leaf("apiserver-kubelet-client", "/O=system:masters/CN=kube-apiserver-kubelet-client", "clientAuth")
    # front-proxy (requestheader) CA + the apiserver's proxy client cert, as kubeadm does: without
    # --requestheader-client-ca-file the controller-manager and scheduler log "missing content for CA
    # bundle ...requestheader-client-ca-file" every few seconds, and aggregated APIs could not work.
    sh("openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
       "-out", "front-proxy-ca.key", cwd=pki)
    sh("openssl", "req", "-x509", "-new", "-key", "front-proxy-ca.key", "-sha256", "-days", "3650",
       "-subj", "/CN=front-proxy-ca", "-out", "front-proxy-ca.crt", cwd=pki)
    key("front-proxy-client")
    (pki / "front-proxy-client.ext").write_text("keyUsage=critical,digitalSignature,keyEncipherment\n"
                                                "extendedKeyUsage=clientAuth\nbasicConstraints=critical,CA:FALSE\n")
    sh("openssl", "req", "-new", "-key", "front-proxy-client.key", "-subj", "/CN=front-proxy-client",
       "-out", "front-proxy-client.csr", cwd=pki)
    sh("openssl", "x509", "-req", "-in", "front-proxy-client.csr", "-CA", "front-proxy-ca.crt",
       "-CAkey", "front-proxy-ca.key", "-CAcreateserial", "-days", "3650", "-sha256",
       "-extfile", "front-proxy-client.ext", "-out", "front-proxy-client.crt", cwd=pki)
    # service-account token signing key pair
    key("sa")
    sh("openssl", "pkey", "-in", "sa.key", "-pubout", "-out", "sa.pub", cwd=pki)


def kubeconfig(pki: Path, user: str, server: str, out: Path) -> None:
    b64 = lambda p: base64.b64encode((pki / p).read_bytes()).decode()
    cfg = {
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": "e2e", "cluster": {"server": server,
                                                  "certificate-authority-data": b64("ca.crt")}}],
        "users": [{"name": user, "user": {"client-certificate-data": b64(f"{user}.crt"),
                                          "client-key-data": b64(f"{user}.key")}}],
        "contexts": [{"name": "e2e", "context": {"cluster": "e2e", "user": user}}],
        "current-context": "e2e",
    }
    out.write_text(json.dumps(cfg, indent=1))  # JSON is valid YAML; kubectl/helm read it
    out.chmod(0o600)


# ----------------------------------------------------------------------------- processes
_libc = ctypes.CDLL(None, use_errno=True)
PR_SET_PDEATHSIG = 1


def _pdeathsig() -> None:
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


class Plane:
    def __init__(self, d: Path, bin_dir: Path, tie_to_parent: bool):
        self.dir = d
        self.bin = bin_dir
        self.tie = tie_to_parent
        self.state_file = d / "state.json"
        self.state: dict = {"dir": str(d), "procs": {}, "ports": {}, "timings": {}}
        if self.state_file.exists():
            self.state = json.loads(self.state_file.read_text())

    def save(self) -> None:
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.state, indent=1))
        tmp.replace(self.state_file)

    def spawn(self, name: str, argv: list[str], env: dict | None = None) -> subprocess.Popen:
        logf = open(self.dir / "logs" / f"{name}.log", "ab")
        e = dict(os.environ)
        e.update(env or {})
        p = subprocess.Popen(argv, stdout=logf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                             cwd=self.dir, env=e, start_new_session=True,
                             preexec_fn=_pdeathsig if self.tie else None)
        logf.close()
        self.state["procs"][name] = {"pid": p.pid, "pgid": p.pid, "argv": argv}
        self.save()
        return p

    # -- stop -------------------------------------------------------------------------
    def stop(self, grace: float = 10.0) -> None:
        t0 = time.monotonic()
        procs = self.state.get("procs", {})
        order = ["kwok", "kube-proxy", "kubelet", "containerd", "kube-scheduler", "kube-controller-manager",
                 "kube-apiserver", "etcd"]
        names = [n for n in order if n in procs] + [n for n in procs if n not in order]
        names = [n for n in names if procs[n]["pgid"] != os.getpgid(0)]  # the janitor (node.py) stopping it
        for n in names:
            _signal_group(procs[n]["pgid"], signal.SIGTERM)
            _wait_gone(procs[n]["pgid"], grace if n in ("kube-apiserver", "etcd") else 3.0)
        for n in names:
            if _group_alive(procs[n]["pgid"]):
                log(f"{n}: still alive after SIGTERM, SIGKILL")
                _signal_group(procs[n]["pgid"], signal.SIGKILL)
                _wait_gone(procs[n]["pgid"], 5.0)
        if self.state.get("node"):  # a real node's containers, shims, mounts, cgroups, bridge (e2e/node.py)
            import node
            for done in node.clean(self.state["node"]):
                log(f"node: {done}")
        # fallback: any process whose argv names this (unique, mkdtemp'd) run dir
        for pid in _pids_mentioning(str(self.dir)):
            log(f"stray pid {pid} mentions {self.dir}: SIGKILL")
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        busy = [p for p in self.state.get("ports", {}).values() if _port_bound(p)]
        if busy:
            log(f"WARNING ports still bound: {busy}")
        self.state["stopped"] = True
        self.state["stop_s"] = round(time.monotonic() - t0, 2)
        self.save()
        log(f"stopped in {self.state['stop_s']}s")


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    # zombies of our own children count as gone
    for pid in _pids_in_group(pgid):
        try:
            st = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if st != "Z":
            return True
    return False


def _pids_in_group(pgid: int) -> list[int]:
    out = []
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                fields = (p / "stat").read_text().rsplit(")", 1)[1].split()
                if int(fields[2]) == pgid:
                    out.append(int(p.name))
            except (OSError, IndexError, ValueError):
                pass
    return out


def _wait_gone(pgid: int, timeout: float) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            os.waitpid(-pgid, os.WNOHANG)  # reap if it is our child
        except ChildProcessError:
            pass
        if not _group_alive(pgid):
            return
        time.sleep(0.1)


def _pids_mentioning(needle: str) -> list[int]:
    out = []
    me = os.getpid()
    for p in Path("/proc").iterdir():
        if p.name.isdigit() and int(p.name) != me:
            try:
                if needle.encode() in (p / "cmdline").read_bytes():
                    st = (p / "stat").read_text().rsplit(")", 1)[1].split()[0]
                    if st != "Z":
                        out.append(int(p.name))
            except OSError:
                pass
    return out


def _port_bound(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
            return False
        except OSError:
            return True


# ----------------------------------------------------------------------------- health
def https_ok(url: str, pki: Path | None, timeout: float = 2.0) -> bool:
    ctx = ssl.create_default_context()
    if pki is not None:
        ctx.load_verify_locations(str(pki / "ca.crt"))
        ctx.load_cert_chain(str(pki / "admin.crt"), str(pki / "admin.key"))
    else:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    try:
        with urllib.request.urlopen(url, context=ctx, timeout=timeout) as r:
            return r.status == 200
    except Exception:
        return False


def http_ok(url: str, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status == 200
    except Exception:
        return False


def tcp_ok(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def wait_for(what: str, pred, procs: dict[str, subprocess.Popen], timeout: float) -> float:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        for n, p in procs.items():
            if p.poll() is not None:
                raise RuntimeError(f"{n} exited with {p.returncode} while waiting for {what}; see logs/{n}.log")
        if pred():
            return time.monotonic() - t0
        time.sleep(0.1)
    raise TimeoutError(f"timed out after {timeout}s waiting for {what}")


def rss_kib(pid: int, field: str = "VmRSS") -> int:
    """VmRSS (current) or VmHWM (peak) of pid, in KiB; 0 if gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


# ----------------------------------------------------------------------------- up
def up(d: Path, bin_dir: Path = DEFAULT_BIN, tie: bool = True, timeout: float = 180, kwok: bool = True) -> Plane:
    """Start the plane in `d`; stopped again (and the error raised) when a component does not come up."""
    (d / "logs").mkdir(parents=True, exist_ok=True)
    plane = Plane(d, bin_dir, tie)
    pki = d / "pki"
    t_start = time.monotonic()
    T = plane.state["timings"]
    live: dict[str, subprocess.Popen] = {}
    try:
        make_pki(pki)
        T["pki_s"] = round(time.monotonic() - t_start, 2)

        names = ("store", "store_peer", "apiserver", "controller_manager", "scheduler")
        ports = dict(zip(names, free_ports(len(names))))
        plane.state["ports"] = ports
        plane.save()
        server = f"https://127.0.0.1:{ports['apiserver']}"
        for u in ("admin", "controller-manager", "scheduler", "kwok"):
            kubeconfig(pki, u, server, d / f"{u}.kubeconfig")
        (d / "kubeconfig").write_text((d / "admin.kubeconfig").read_text())
        (d / "kubeconfig").chmod(0o600)

        # ---- storage
        c, pe = ports["store"], ports["store_peer"]
        live["etcd"] = plane.spawn("etcd", [
            str(bin_dir / "etcd"),
            "--name=e2e",
            f"--data-dir={d}/etcd-data",
            f"--listen-client-urls=http://127.0.0.1:{c}",
            f"--advertise-client-urls=http://127.0.0.1:{c}",
            f"--listen-peer-urls=http://127.0.0.1:{pe}",
            f"--initial-advertise-peer-urls=http://127.0.0.1:{pe}",
            f"--initial-cluster=e2e=http://127.0.0.1:{pe}",
            "--initial-cluster-state=new",
            "--unsafe-no-fsync=true",          # throw-away test data: skip fsync
            "--snapshot-count=10000",
            "--quota-backend-bytes=2147483648",
            "--log-level=warn",
        ])
        T["store_ready_s"] = round(wait_for(
            "etcd /health", lambda: http_ok(f"http://127.0.0.1:{c}/health"), live, timeout), 2)
        T["store_ready_at_s"] = round(time.monotonic() - t_start, 2)

        # ---- kube-apiserver
        live["kube-apiserver"] = plane.spawn("kube-apiserver", [
            str(bin_dir / "kube-apiserver"),
            f"--etcd-servers=http://127.0.0.1:{ports['store']}",
            "--bind-address=127.0.0.1",
            "--advertise-address=127.0.0.1",
            f"--secure-port={ports['apiserver']}",
            f"--tls-cert-file={pki}/apiserver.crt",
            f"--tls-private-key-file={pki}/apiserver.key",
            f"--client-ca-file={pki}/ca.crt",
            f"--service-account-key-file={pki}/sa.pub",
            f"--service-account-signing-key-file={pki}/sa.key",
            f"--service-account-issuer={SA_ISSUER}",
            f"--service-cluster-ip-range={SERVICE_CIDR}",
            "--authorization-mode=Node,RBAC",
            f"--requestheader-client-ca-file={pki}/front-proxy-ca.crt",
            "--requestheader-allowed-names=front-proxy-client",
            "--requestheader-username-headers=X-Remote-User",
            "--requestheader-group-headers=X-Remote-Group",
            "--requestheader-extra-headers-prefix=X-Remote-Extra-",
            f"--proxy-client-cert-file={pki}/front-proxy-client.crt",
            f"--proxy-client-key-file={pki}/front-proxy-client.key",
            f"--kubelet-client-certificate={pki}/apiserver-kubelet-client.crt",
            f"--kubelet-client-key={pki}/apiserver-kubelet-client.key",
            # a live node's name resolves nowhere: exec and logs reach its kubelet by the InternalIP it registered
            "--kubelet-preferred-address-types=InternalIP,Hostname",
            # 127.0.0.1 cannot be published in the default/kubernetes Endpoints ("may not be in the
            # loopback range"); the "lease" reconciler then logs an error every 10 s. Nothing in-cluster
            # needs that endpoint here (no real pods), so do not reconcile it.
            "--endpoint-reconciler-type=none",
            # No --enable-admission-plugins: v1.33's default set already has NamespaceLifecycle, LimitRanger,
            # ServiceAccount, TaintNodesByCondition, PodSecurity, Priority, DefaultTolerationSeconds,
            # DefaultStorageClass, StorageObjectInUseProtection, PersistentVolumeClaimResize, RuntimeClass,
            # CertificateApproval/Signing/SubjectRestriction, ClusterTrustBundleAttest, DefaultIngressClass,
            # PodTopologyLabels, MutatingAdmissionPolicy, Mutating/ValidatingAdmissionWebhook,
            # ValidatingAdmissionPolicy and ResourceQuota (kube-apiserver -h).
            "--allow-privileged=true",   # so that PodSecurity (not the global switch) is what refuses privileged pods
            "--profiling=false",
            "--v=1",
        ])
        T["apiserver_ready_s"] = round(wait_for(
            "kube-apiserver /readyz",
            lambda: https_ok(f"https://127.0.0.1:{ports['apiserver']}/readyz", pki), live, timeout), 2)
        T["apiserver_ready_at_s"] = round(time.monotonic() - t_start, 2)

        # ---- controller-manager and scheduler (started together)
        cmk = d / "controller-manager.kubeconfig"
        live["kube-controller-manager"] = plane.spawn("kube-controller-manager", [
            str(bin_dir / "kube-controller-manager"),
            f"--kubeconfig={cmk}",
            f"--authentication-kubeconfig={cmk}",
            f"--authorization-kubeconfig={cmk}",
            "--bind-address=127.0.0.1",
            f"--secure-port={ports['controller_manager']}",
            f"--service-account-private-key-file={pki}/sa.key",
            f"--root-ca-file={pki}/ca.crt",
            f"--cluster-signing-cert-file={pki}/ca.crt",
            f"--cluster-signing-key-file={pki}/ca.key",
            "--use-service-account-credentials=true",
            f"--service-cluster-ip-range={SERVICE_CIDR}",
            "--controllers=*,bootstrapsigner,tokencleaner",
            "--leader-elect=false",
            "--profiling=false",
            "--v=1",
        ])
        sk = d / "scheduler.kubeconfig"
        (d / "scheduler.yaml").write_text(scheduler_config(sk))
        live["kube-scheduler"] = plane.spawn("kube-scheduler", [
            str(bin_dir / "kube-scheduler"),
            f"--config={d}/scheduler.yaml",
            f"--authentication-kubeconfig={sk}",
            f"--authorization-kubeconfig={sk}",
            "--bind-address=127.0.0.1",
            f"--secure-port={ports['scheduler']}",
            "--profiling=false",
            "--v=1",
        ])
        stages_file = STAGES
        if kwok:
            live["kwok"] = plane.spawn("kwok", [
                str(bin_dir / "kwok"),
                f"--kubeconfig={d}/kwok.kubeconfig",
                f"--config={stages_file}",
                "--manage-all-nodes=false",
                "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
                "--disregard-status-with-annotation-selector=kwok.x-k8s.io/status=custom",
                "--node-lease-duration-seconds=40",
                f"--cidr={POD_CIDR}",
                "--node-ip=127.0.0.1",
            ], env={"HOME": str(d)})  # kwok also reads ~/.kwok/kwok.yaml if present: keep it private
        T["controller_manager_ready_s"] = round(wait_for(
            "kube-controller-manager /healthz",
            lambda: https_ok(f"https://127.0.0.1:{ports['controller_manager']}/healthz", None), live, timeout), 2)
        T["scheduler_ready_s"] = round(wait_for(
            "kube-scheduler /readyz",
            lambda: https_ok(f"https://127.0.0.1:{ports['scheduler']}/readyz", None), live, timeout), 2)
        # pods can only be created once the ServiceAccount controller made the namespace's "default" SA
        api = f"https://127.0.0.1:{ports['apiserver']}"
        T["default_sa_ready_s"] = round(wait_for(
            "serviceaccount default/default",
            lambda: https_ok(f"{api}/api/v1/namespaces/default/serviceaccounts/default", pki), live, timeout), 2)
        T["total_ready_s"] = round(time.monotonic() - t_start, 2)
        plane.state["kubeconfig"] = str(d / "kubeconfig")
        plane.state["server"] = server
        plane.state["rss_kib_at_ready"] = {n: rss_kib(p.pid) for n, p in live.items()}
        plane.save()
        return plane
    except BaseException:
        log("start-up failed: stopping what was started")
        for n in live:
            tail = (d / "logs" / f"{n}.log").read_text(errors="replace").splitlines()[-15:]
            log(f"--- {n}.log (tail)\n" + "\n".join(tail))
        plane.stop()
        raise



def scheduler_config(kubeconfig: Path) -> str:
    """The scheduler packs GPUs (NodeResourcesFit MostAllocated on nvidia.com/gpu), as GPU clusters are
    configured, so a large pod finds a whole node and the fit check's first-fit-decreasing placement is
    what the scheduler does."""
    return json.dumps({
        "apiVersion": "kubescheduler.config.k8s.io/v1", "kind": "KubeSchedulerConfiguration",
        "clientConnection": {"kubeconfig": str(kubeconfig)}, "leaderElection": {"leaderElect": False},
        "profiles": [{"schedulerName": "default-scheduler", "pluginConfig": [{
            "name": "NodeResourcesFit", "args": {"scoringStrategy": {
                "type": "MostAllocated",
                "resources": [{"name": "nvidia.com/gpu", "weight": 5}, {"name": "cpu", "weight": 1},
                              {"name": "memory", "weight": 1}]}}}]}],
    })
