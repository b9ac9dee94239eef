"""A pod of the chart's security context runs for real on the live node, and the node leaves nothing behind."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import yaml

import images
import node as nodes
import plane as planes
from livenode import FIGURES, LIVE_ENV, Live, node_images
from vllm_models import render

HERE = Path(__file__).resolve().parent
NAMESPACE = "live"
SHM = "64Mi"


def web_pod(live: Live) -> dict:
    """busybox's httpd under the chart's own pod and container security context, a GPU requested like a
    serving pod, an emptyDir for what it serves and /dev/shm a memory emptyDir; what the container saw
    (its UID, whether / is writable, /dev/shm's size) is in facts.txt."""
    script = ("{ echo uid=$(id -u); if touch /rootfs-write 2>/dev/null; then echo root=writable; "
              "else echo root=read-only; fi; echo shm-kib=$(df -k /dev/shm | tail -1 | awk '{print $2}'); "
              "} > /srv/facts.txt; echo ok > /srv/index.html; exec /bin/busybox httpd -f -p 8080 -h /srv")
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "web", "namespace": NAMESPACE, "labels": {"app": "web"}},
        "spec": {
            "securityContext": render.chart_default("securityContext"),
            "nodeSelector": {"nvidia.com/gpu.product": live.pool.product},
            "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
            "containers": [{
                "name": "web", "image": images.BUSYBOX, "imagePullPolicy": "Never",
                "command": ["/bin/busybox", "sh", "-c", script],
                "securityContext": render.chart_default("containerSecurityContext"),
                "ports": [{"containerPort": 8080, "name": "http"}],
                "readinessProbe": {"httpGet": {"path": "/index.html", "port": "http"}, "periodSeconds": 1},
                "resources": {"limits": {"nvidia.com/gpu": "1", "cpu": "100m", "memory": "64Mi"}},
                "volumeMounts": [{"name": "srv", "mountPath": "/srv"}, {"name": "shm", "mountPath": "/dev/shm"}]}],
            "volumes": [{"name": "srv", "emptyDir": {"sizeLimit": "1Mi"}},
                        {"name": "shm", "emptyDir": {"medium": "Memory", "sizeLimit": SHM}}],
        }}


def service() -> dict:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": NAMESPACE},
            "spec": {"type": "NodePort", "selector": {"app": "web"},
                     "ports": [{"port": 80, "targetPort": "http", "name": "http"}]}}


def fetch(url: str, timeout: float = 30) -> str:
    """The body at url, retried until it answers (kube-proxy programs a new Service within a second or two)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=3) as response:
                return response.read().decode()
        except OSError as error:
            if time.monotonic() > deadline:
                raise AssertionError(f"GET {url}: no answer within {timeout} s: {error}")
            time.sleep(0.5)


def test_a_pod_of_the_charts_security_context_runs_for_real_on_the_node(live: Live):
    cluster = live.cluster
    cluster.kubectl("create", "namespace", NAMESPACE, doing="creating the namespace")
    created = time.monotonic()
    cluster.kubectl("apply", "-f", "-", stdin=yaml.safe_dump_all([web_pod(live), service()]),
                    doing="creating pod web and its Service")
    waited = cluster.kubectl("wait", "-n", NAMESPACE, "--for=condition=Ready", "pod/web", "--timeout=120s",
                             doing="waiting for pod web", check=False)
    pod = json.loads(cluster.kubectl("get", "-n", NAMESPACE, "pod", "web", "-o", "json").stdout)
    where = f"environment {LIVE_ENV}, node {live.node}, pod {NAMESPACE}/web, container web"
    assert waited.returncode == 0, f"{where}: not Ready within 120 s: {json.dumps(pod.get('status'), indent=1)}"
    FIGURES.setdefault("pod created to Ready (s)", []).append(round(time.monotonic() - created, 1))
    assert pod["spec"]["nodeName"] == live.node, f"{where}: scheduled on {pod['spec']['nodeName']}, not the real node"

    facts = dict(line.split("=", 1) for line in fetch(f"http://{pod['status']['podIP']}:8080/facts.txt").split())
    context = render.chart_default("securityContext")
    assert facts["uid"] == str(context["runAsUser"]), f"{where}: runs as UID {facts['uid']}, the chart sets {context['runAsUser']}"
    assert facts["root"] == "read-only", f"{where}: a write to / succeeded under readOnlyRootFilesystem"
    assert int(facts["shm-kib"]) == 64 * 1024, f"{where}: /dev/shm has {facts['shm-kib']} KiB, the pod sized it {SHM}"

    svc = json.loads(cluster.kubectl("get", "-n", NAMESPACE, "service", "web", "-o", "json").stdout)["spec"]
    assert fetch(f"http://{svc['clusterIP']}/index.html").strip() == "ok", f"{where}: not reachable by ClusterIP"
    node_port = svc["ports"][0]["nodePort"]
    assert fetch(f"http://{nodes.NODE_IP}:{node_port}/index.html").strip() == "ok", f"{where}: not reachable by NodePort {node_port}"
    timings, store = cluster.plane.state["timings"], Path(cluster.plane.state["node"]["image_store"])
    assert timings["images_from"] == "store", f"{where}: the images came from {timings['images_from']}, not {store}"
    assert nodes.store_changes(store) == [], f"{where}: the node wrote into its image store {store}"


def test_a_killed_harness_takes_its_node_containers_and_mounts_with_it(tmp_path):
    """As e2e/test_plane.py for the control plane: SIGKILL the harness with a pod running; its janitor
    removes the containers, shims, mounts, cgroups and bridge. Its image stores are on another file system
    (a tmpfs), so this node imports the archives, the path a cache that cannot be hard-linked takes."""
    directory = tmp_path / "plane"
    bin_dir = planes.DEFAULT_BIN
    wanted = node_images(bin_dir)
    other_file_system = tmp_path / "tmpfs"
    other_file_system.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(other_file_system)], check=True)
    code = ("import sys, time, json; from pathlib import Path; sys.path.insert(0, sys.argv[1]); "
            "import plane, node\n"
            "p = plane.up(Path(sys.argv[2]), tie=True, kwok=False)\n"
            "node.join(p, 'victim', {}, [], 0, {k: Path(v) for k, v in json.loads(sys.argv[3]).items()},\n"
            "          stores=Path(sys.argv[4]))\n"
            "print('up', flush=True); time.sleep(600)")
    harness = subprocess.Popen([sys.executable, "-c", code, str(HERE.parent), str(directory),
                                json.dumps({k: str(v) for k, v in wanted.items()}), str(other_file_system / "stores")],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, start_new_session=True)
    try:
        assert harness.stdout.readline().strip() == "up", "the plane and its node did not start"
        state = json.loads((directory / "state.json").read_text())
        kubeconfig = state["kubeconfig"]
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "sleeper", "namespace": "default"},
               "spec": {"containers": [{"name": "sleeper", "image": images.BUSYBOX, "imagePullPolicy": "Never",
                                        "command": ["/bin/busybox", "sleep", "3600"]}],
                        "volumes": [{"name": "shm", "emptyDir": {"medium": "Memory"}}]}}
        pod["spec"]["containers"][0]["volumeMounts"] = [{"name": "shm", "mountPath": "/dev/shm"}]
        kubectl = [str(bin_dir / "kubectl-1.33"), "--kubeconfig", kubeconfig]
        subprocess.run([*kubectl, "apply", "-f", "-"], input=json.dumps(pod), text=True, check=True, capture_output=True)
        subprocess.run([*kubectl, "wait", "--for=condition=Ready", "pod/sleeper", "--timeout=120s"], check=True,
                       capture_output=True)
        running = nodes.leftovers(state["node"])
        assert any(item.startswith("container process") for item in running), f"no container runs: {running}"
        os.kill(harness.pid, signal.SIGKILL)  # no finally, no signal handler: only the janitor can act
        harness.wait(10)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            left = nodes.leftovers(state["node"]) + [f"{n} (process group {p['pgid']})" for n, p in state["procs"].items()
                                                     if planes._group_alive(p["pgid"])]
            if not left:
                break
            time.sleep(0.5)
    finally:
        harness.kill()
        if (directory / "state.json").exists():
            planes.Plane(directory, bin_dir, tie_to_parent=False).stop()
        subprocess.run(["umount", str(other_file_system)], check=True)
    assert left == [], f"still on the host after the harness was killed: {left}"
    assert state["timings"]["images_from"] == "archives", \
        f"node victim: images from {state['timings']['images_from']}, though its stores were on another file system"
