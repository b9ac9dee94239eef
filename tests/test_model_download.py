"""Weights delivery (storage.download): the init container that fetches a model before vLLM starts.

The chart tests render the two delivery examples (s3-delivery.yaml, huggingface-delivery.yaml). The
script tests run the init container's own command, taken from a render, with a stand-in downloader:
what a restart, a changed source, a failed download and a second pod on the same volume do.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest

from charts import render_chart
from vllm_models import capacity, chart_examples, rules
from vllm_models import render as harness

S3, HF = "s3-delivery", "huggingface-delivery"


def values(example: str) -> dict:
    return chart_examples.values(example)


def init_container(rendered: harness.Rendered) -> dict:
    [container] = rendered.workload().template["spec"]["initContainers"]
    return container


def env_of(container: dict) -> dict:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}


IDENTITY = rules.data()["workloadIdentity"]


def workload_identity(auth: str) -> dict:
    """s3-delivery.yaml moved to AWS S3 with its role on the release's ServiceAccount instead of a key Secret."""
    account = {"annotations": {IDENTITY["roleAnnotation"]: "arn:aws:iam::111122223333:role/model-reader"}}
    return {"storage": {"download": {"s3": {"endpoint": "", "auth": auth, "credentialsSecret": {"name": ""}}}},
            "serviceAccount": account if auth == "irsa" else {}}


def where(example: str) -> str:
    return f"example {example}, release {chart_examples.release_name(example)}"


class TestTheDownloadContainer:
    def test_an_s3_source_syncs_the_bucket_into_the_model_directory_with_keys_from_the_secret(self):
        download = values(S3)["storage"]["download"]
        container = init_container(render_chart(example=S3))
        model = values(S3)["deployment"]["model"]
        assert container["image"] == f"{download['s3'].get('image', {}).get('repository', 'amazon/aws-cli')}:2.36.7"
        assert container["args"] == ["aws", "s3", "sync", download["s3"]["uri"], f"{model}.partial", "--delete",
                                     "--no-progress", "--only-show-errors", "--endpoint-url", download["s3"]["endpoint"]], (
            f"{where(S3)}: {container['args']}")
        env = env_of(container)
        secret = download["s3"]["credentialsSecret"]["name"]
        assert env["AWS_ACCESS_KEY_ID"] == {"secretKeyRef": {"name": secret, "key": "AWS_ACCESS_KEY_ID"}}
        assert env["AWS_SECRET_ACCESS_KEY"] == {"secretKeyRef": {"name": secret, "key": "AWS_SECRET_ACCESS_KEY"}}
        assert env["AWS_EC2_METADATA_DISABLED"] == "true", "an S3-compatible store has no instance metadata"
        assert (env["MODEL_DIR"], env["SOURCE_ID"]) == (model, f"{download['s3']['uri']} at {download['s3']['endpoint']}")

    def test_aws_s3_needs_no_endpoint_override_and_asks_instance_metadata(self):
        container = init_container(render_chart({"storage": {"download": {"s3": {"endpoint": ""}}}}, example=S3))
        assert "--endpoint-url" not in container["args"] and "AWS_EC2_METADATA_DISABLED" not in env_of(container)

    @pytest.mark.parametrize("auth", ["irsa", "eksPodIdentity"])
    def test_on_eks_only_the_download_takes_the_service_accounts_role_and_no_key_secret(self, auth):
        rendered = render_chart(workload_identity(auth), example=S3)
        container = init_container(rendered)
        env = env_of(container)
        assert not {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"} & env.keys(), f"{where(S3)}, auth {auth}: {env}"
        assert env["AWS_DEFAULT_REGION"] == values(S3)["storage"]["download"]["s3"].get("region", "us-east-1")
        pod = rendered.workload().template
        skipped = pod["metadata"]["annotations"][IDENTITY["skipContainersAnnotation"]].split(",")
        assert skipped == [c["name"] for c in pod["spec"]["containers"]], f"{where(S3)}, auth {auth}: {skipped}"
        assert container["name"] not in skipped, "the download is the one container EKS's webhook gives the role"
        assert pod["spec"]["automountServiceAccountToken"] is False, "the webhook projects its own token"

    def test_with_the_key_secret_no_container_is_kept_from_a_role(self):
        pod = render_chart(example=S3).workload().template
        assert IDENTITY["skipContainersAnnotation"] not in pod["metadata"]["annotations"], where(S3)

    def test_a_hugging_face_source_downloads_the_pinned_revision_with_the_token_from_the_secret(self):
        hf = values(HF)["storage"]["download"]["huggingface"]
        rendered = render_chart(example=HF)
        container = init_container(rendered)
        model = values(HF)["deployment"]["model"]
        assert container["image"] == rendered.container()["image"], "the download reuses the release's vLLM image"
        assert container["args"][0:2] == ["python3", "-c"]
        assert container["args"][3:] == [hf["repo"], hf["revision"], f"{model}.partial", '["*.safetensors","*.json"]']
        assert "snapshot_download(repo_id=repo, revision=revision or None, local_dir=target" in container["args"][2]
        env = env_of(container)
        token = values(HF)["huggingface"]["tokenSecret"]
        assert env["HF_TOKEN"] == {"secretKeyRef": {"name": token["name"], "key": token["key"]}}
        assert env["SOURCE_ID"] == f"hf://{hf['repo']}@{hf['revision']}"

    def test_a_download_image_is_pinned_by_tag_and_digest(self):
        digest = "sha256:" + "a" * 64
        container = init_container(render_chart({"storage": {"download": {"s3": {"image": {"digest": digest}}}}}, example=S3))
        assert container["image"] == f"amazon/aws-cli:2.36.7@{digest}"

    @pytest.mark.parametrize("example", [S3, HF])
    def test_the_download_has_its_own_guaranteed_resources_and_the_pods_security(self, example):
        rendered = render_chart(example=example)
        container = init_container(rendered)
        assert container["resources"]["limits"] == container["resources"]["requests"] == {"cpu": "4", "memory": "8Gi"}
        assert container["securityContext"] == rendered.container()["securityContext"]

    @pytest.mark.parametrize("example", [S3, HF])
    def test_the_download_is_limited_to_its_time_limit_and_writes_where_vllm_reads(self, example):
        rendered = render_chart(example=example)
        container = init_container(rendered)
        seconds = values(example)["storage"]["download"]["timeoutSeconds"]
        assert container["command"][:5] == ["timeout", str(seconds), "/bin/sh", "-c", container["command"][4]]
        assert env_of(container)["LOCK_STALE_MINUTES"] == str(-(-seconds // 60) + 1)
        assert env_of(container)["POD_UID"] == {"fieldRef": {"fieldPath": "metadata.uid"}}, (
            f"{where(example)}: the lock names its pod by UID, so the pod's next attempt knows its own lock")
        mount = values(example)["storage"]["mountPath"]
        assert {"name": "models", "mountPath": mount} in container["volumeMounts"], "the download writes the volume"
        assert {"name": "models", "mountPath": mount, "readOnly": True} in rendered.container()["volumeMounts"]

    def test_the_time_limit_defaults_to_the_startup_budget(self):
        rendered = render_chart(example=HF, edit=lambda v: v["storage"]["download"].pop("timeoutSeconds"))
        budget = rendered.workload().object["metadata"]["annotations"]["vllm-models.io/startup-budget-seconds"]
        assert init_container(rendered)["command"][1] == budget

    @pytest.mark.parametrize("example", [S3, HF])
    def test_vllm_runs_offline_on_the_downloaded_directory(self, example):
        rendered = render_chart(example=example)
        env = env_of(rendered.container())
        assert (env["HF_HUB_OFFLINE"], env["TRANSFORMERS_OFFLINE"]) == ("1", "1")
        assert rendered.container()["args"][0] == values(example)["deployment"]["model"]

    def test_without_a_download_there_is_no_init_container(self):
        rendered = render_chart(example="single-gpu")
        assert "initContainers" not in rendered.workload().template["spec"]

    def test_a_node_local_cache_must_exist_since_the_kubelet_would_create_it_unwritable(self):
        volumes = render_chart(example=HF).workload().template["spec"]["volumes"]
        models = next(v for v in volumes if v["name"] == "models")
        assert models["hostPath"] == {"path": values(HF)["hps"]["models"]["path"], "type": "Directory"}, \
            f"example {HF}: Deployment volume models is {models}"

    @pytest.mark.parametrize("download", [True, False])
    def test_a_claim_is_read_only_for_every_mount_only_when_nothing_downloads_into_it(self, download):
        rendered = render_chart(example=S3, edit=lambda v: v["storage"]["download"].update(enabled=download))
        models = next(v for v in rendered.workload().template["spec"]["volumes"] if v["name"] == "models")
        assert ("readOnly" in models["persistentVolumeClaim"]) is not download, \
            f"example {S3} with storage.download.enabled {download}: Deployment volume models is {models}"
        assert {"name": "models", "mountPath": values(S3)["storage"]["mountPath"], "readOnly": True} in \
            rendered.container()["volumeMounts"], "vLLM reads the weights through a read-only mount either way"

    def test_the_rollout_waits_for_the_download_and_the_load(self):
        rendered = render_chart(example=HF)
        deployment = rendered.one("Deployment")
        budget = int(deployment["metadata"]["annotations"]["vllm-models.io/startup-budget-seconds"])
        seconds = values(HF)["storage"]["download"]["timeoutSeconds"]
        assert deployment["spec"]["progressDeadlineSeconds"] == budget + seconds + 600

    def test_a_groups_leader_waits_for_the_slowest_nodes_download(self):
        overrides = {"storage": {"type": "pvc", "pvc": {"accessModes": ["ReadWriteMany"]}, "download": {
            "enabled": True, "source": "huggingface", "timeoutSeconds": 600,
            "huggingface": {"repo": "meta-llama/Llama-3.1-405B-Instruct", "revision": "a" * 40}}}}
        rendered = render_chart(overrides, example="multi-node")
        plain = render_chart(example="multi-node")
        period = plain.container()["startupProbe"]["periodSeconds"]
        extra = rendered.container()["startupProbe"]["failureThreshold"] - plain.container()["startupProbe"]["failureThreshold"]
        assert extra == 600 // period, f"leader startup threshold grows by {extra}"
        assert "--ray_init_timeout=" in rendered.container()["command"][2]
        budget = int(plain.one("LeaderWorkerSet")["metadata"]["annotations"]["vllm-models.io/startup-budget-seconds"])
        assert f"--ray_init_timeout={budget + 600} " in rendered.container()["command"][2]

    def test_the_network_policy_lets_the_download_reach_its_store(self):
        s3 = render_chart({"networkPolicy": {"enabled": True, "clientCIDRs": ["10.20.0.0/16"]}}, example=S3).one("NetworkPolicy")["spec"]["egress"]
        assert {"ports": [{"protocol": "TCP", "port": 9000}]} in s3, s3
        hf = render_chart({"networkPolicy": {"enabled": True, "clientCIDRs": ["10.20.0.0/16"]}}, example=HF).one("NetworkPolicy")["spec"]["egress"]
        assert {"ports": [{"protocol": "TCP", "port": 443}]} in hf, hf

    def test_the_quota_charges_the_larger_of_the_download_and_vllm(self):
        held = capacity.footprint(render_chart(example=S3))
        assert held.per_pod["limits.memory"] == capacity.quantity(values(S3)["resources"]["limits"]["memory"])
        larger = render_chart({"storage": {"download": {"resources": {"limits": {"cpu": "4", "memory": "400Gi"}}}}},
                              example=S3)
        assert capacity.footprint(larger).per_pod["limits.memory"] == capacity.quantity("400Gi"), "the init container's"


class TestAdapterDownloads:
    """lora.yaml: an adapter with a source is fetched by one more init container, after the weights."""

    def test_each_adapter_with_a_source_is_fetched_after_the_weights_into_its_path(self):
        rendered = render_chart(example="lora")
        containers = rendered.workload().template["spec"]["initContainers"]
        fetched = [(i, a) for i, a in enumerate(values("lora")["lora"]["adapters"]) if a.get("source")]
        assert [c["name"] for c in containers] == ["model-download"] + [f"lora-download-{i}" for i, _ in fetched]
        download = values("lora")["storage"]["download"]
        for container, (_, adapter) in zip(containers[1:], fetched):
            env = env_of(container)
            assert env["MODEL_DIR"] == adapter["path"], f"{where('lora')}: {container['name']} env {env}"
            assert env["SOURCE_ID"] == f"{adapter['s3']['uri']} at {download['s3']['endpoint']}"
            assert container["args"][:5] == ["aws", "s3", "sync", adapter["s3"]["uri"], f"{adapter['path']}.partial"]
            assert container["image"] == containers[0]["image"] and container["command"] == containers[0]["command"]

    def test_a_hugging_face_adapter_is_fetched_at_its_revision(self):
        adapter = {"name": "sql", "path": "/models/adapters/sql", "rank": 8, "source": "huggingface",
                   "huggingface": {"repo": "org/sql-lora", "revision": "b" * 40}}
        rendered = render_chart({"lora": {"enabled": True, "adapters": [adapter]}}, example=HF)
        [_, container] = rendered.workload().template["spec"]["initContainers"]
        assert container["args"][3:] == ["org/sql-lora", "b" * 40, "/models/adapters/sql.partial", "[]"], container["args"]
        assert env_of(container)["SOURCE_ID"] == f"hf://org/sql-lora@{'b' * 40}"

    def test_the_rollout_waits_for_every_download_one_after_another(self):
        deployment = render_chart(example="lora").one("Deployment")
        budget = int(deployment["metadata"]["annotations"]["vllm-models.io/startup-budget-seconds"])
        seconds = values("lora")["storage"]["download"]["timeoutSeconds"]
        downloads = 1 + sum(1 for a in values("lora")["lora"]["adapters"] if a.get("source"))
        assert deployment["spec"]["progressDeadlineSeconds"] == budget + downloads * seconds + 600


# --- The script itself -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def script() -> str:
    return init_container(render_chart(example=HF))["command"][4]


def run(script: str, model_dir: Path, source: str, downloader: list[str], limit: int = 60,
        **env) -> subprocess.CompletedProcess:
    """The init container's command: `timeout <limit> /bin/sh -c <script> model-download <downloader...>`."""
    variables = dict(os.environ, MODEL_DIR=str(model_dir), SOURCE_ID=source, LOCK_STALE_MINUTES="11",
                     POD_NAME="pod-a", LOCK_POLL_SECONDS="0.2", **env)
    return subprocess.run(["timeout", str(limit), "/bin/sh", "-c", script, "model-download", *downloader],
                          capture_output=True, text=True, env=variables, timeout=limit + 30)


def writes(text: str, model_dir: Path) -> list[str]:
    """A stand-in downloader writing one file into the partial directory, as aws s3 sync or hf would."""
    return ["/bin/sh", "-c", f'echo {text} > "{model_dir}.partial/weights.safetensors"']


FAILS = ["/bin/sh", "-c", "echo network down >&2; exit 7"]


def test_a_first_start_downloads_and_marks_the_copy_complete(script, tmp_path):
    model = tmp_path / "org" / "model"
    result = run(script, model, "hf://org/model@1", writes("v1", model))
    assert result.returncode == 0, result.stderr
    assert (model / "weights.safetensors").read_text() == "v1\n"
    assert (model / ".vllm-models-complete").read_text() == "hf://org/model@1"
    assert not (tmp_path / "org" / "model.partial").exists() and not (tmp_path / "org" / "model.lock").exists()


def test_a_restart_finds_the_complete_copy_and_downloads_nothing(script, tmp_path):
    model = tmp_path / "model"
    assert run(script, model, "s3://b/m", writes("v1", model)).returncode == 0
    result = run(script, model, "s3://b/m", FAILS)
    assert result.returncode == 0 and "nothing to download" in result.stdout, result.stdout + result.stderr


def test_a_changed_source_downloads_again_and_replaces_the_copy(script, tmp_path):
    model = tmp_path / "model"
    assert run(script, model, "hf://org/model@1", writes("v1", model)).returncode == 0
    assert run(script, model, "hf://org/model@2", writes("v2", model)).returncode == 0
    assert (model / "weights.safetensors").read_text() == "v2\n"
    assert (model / ".vllm-models-complete").read_text() == "hf://org/model@2"


def test_a_failed_download_leaves_no_marker_keeps_the_partial_copy_and_the_lock_free(script, tmp_path):
    model = tmp_path / "model"
    result = run(script, model, "s3://b/m", FAILS)
    assert result.returncode == 7 and "network down" in result.stderr
    assert not model.exists(), "an interrupted download must not look like a copy"
    assert (tmp_path / "model.partial").is_dir(), "the next attempt resumes from the partial copy"
    assert not (tmp_path / "model.lock").exists()


def test_a_second_pod_waits_for_the_first_pods_download_instead_of_fetching_again(script, tmp_path):
    model = tmp_path / "model"
    lock = tmp_path / "model.lock"
    lock.mkdir()
    (lock / "owner").write_text("pod-b\n")

    def finish_like_pod_b():
        time.sleep(0.5)
        model.mkdir()
        (model / ".vllm-models-complete").write_text("s3://b/m")
        shutil.rmtree(lock)
    other = threading.Thread(target=finish_like_pod_b)
    other.start()
    result = run(script, model, "s3://b/m", FAILS)
    other.join()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "pod-b" in result.stdout and "is downloading" in result.stdout, result.stdout


@pytest.mark.parametrize("age_minutes, taken_over", [(10.5, False), (12.5, True)], ids=["fresh", "stale"])
def test_a_lock_older_than_the_time_limit_is_taken_over(script, tmp_path, age_minutes, taken_over):
    model = tmp_path / "model"
    lock = tmp_path / "model.lock"
    lock.mkdir()
    then = time.time() - age_minutes * 60
    os.utime(lock, (then, then))
    result = run(script, model, "s3://b/m", writes("v1", model), limit=3)
    if taken_over:
        assert result.returncode == 0 and "taking over" in result.stdout, result.stdout + result.stderr
        assert (model / ".vllm-models-complete").read_text() == "s3://b/m"
    else:
        assert result.returncode == 124, f"a fresh lock holds the pod back until the time limit: {result}"
        assert not model.exists()


@pytest.mark.parametrize("lock_uid, pod_uid, taken_over", [
    ("uid-a", "uid-a", True), ("uid-b", "uid-a", False), ("", "", False)], ids=["this-pod", "another-pod", "no-uid"])
def test_a_lock_this_very_pod_left_when_it_was_killed_is_taken_over_at_once(script, tmp_path, lock_uid, pod_uid,
                                                                            taken_over):
    # An earlier attempt killed whole (its EXIT trap never ran) left a fresh lock naming this pod's UID: the kubelet
    # restarts an init container only once the last attempt is dead, so nobody holds it. Another pod's lock, or one
    # without a UID (a pod of an older chart, or a script run outside Kubernetes), is held until it is stale.
    model = tmp_path / "model"
    lock = tmp_path / "model.lock"
    lock.mkdir()
    (lock / "owner").write_text("pod-a\n")
    (lock / "pod-uid").write_text(f"{lock_uid}\n")
    (tmp_path / "model.partial").mkdir()
    (tmp_path / "model.partial" / "weights.safetensors.1a2b3c4d").write_text("half")
    result = run(script, model, "s3://b/m", writes("v1", model), limit=3, POD_UID=pod_uid)
    if taken_over:
        assert result.returncode == 0, result.stdout + result.stderr
        assert result.stdout.startswith(f"vllm-models: taking over {lock}, left by an earlier attempt of this pod that "
                                        f"was killed; resuming from {tmp_path / 'model.partial'}"), result.stdout
        assert (model / ".vllm-models-complete").read_text() == "s3://b/m"
        assert not lock.exists(), "the new attempt's lock is released when it ends"
    else:
        assert result.returncode == 124, f"a fresh lock of another pod holds this one back until the time limit: {result}"
        assert "taking over" not in result.stdout and not model.exists(), result.stdout


def test_the_lock_records_the_uid_of_the_pod_that_holds_it(script, tmp_path):
    model = tmp_path / "model"
    seen = tmp_path / "seen"
    command = ["/bin/sh", "-c", f'cat "{tmp_path}/model.lock/pod-uid" > "{seen}"; echo v1 > "{model}.partial/w"']
    assert run(script, model, "s3://b/m", command, POD_UID="uid-a").returncode == 0
    assert seen.read_text() == "uid-a\n"


SETPRIV = shutil.which("setpriv")


@pytest.mark.skipif(os.geteuid() != 0 or SETPRIV is None, reason="runs the script as UID 2000: needs root and setpriv")
@pytest.mark.parametrize("mode, writable", [(0o755, False), (0o775, True)], ids=["root-only", "group-0-writable"])
def test_a_model_directory_the_pods_user_cannot_write_stops_with_how_to_create_it(script, mode, writable):
    # What the kubelet makes of a DirectoryOrCreate hostPath (root 0755), and what the chart README asks for
    # (group 0 writable): the chart's pod runs as UID 2000, GID 0. Outside pytest's tmp_path, which is private to root.
    with tempfile.TemporaryDirectory(prefix="vllm-models-node-") as node:
        os.chmod(node, 0o755)
        parent = Path(node) / "models"
        parent.mkdir()
        parent.chmod(mode)
        model = parent / "org-model"
        command = ["/bin/sh", "-c", f'echo v1 > "{model}.partial/weights.safetensors"']
        result = subprocess.run([SETPRIV, "--reuid=2000", "--regid=0", "--clear-groups", "timeout", "60", "/bin/sh",
                                 "-c", script, "model-download", *command], capture_output=True, text=True, timeout=90,
                                env=dict(os.environ, MODEL_DIR=str(model), SOURCE_ID="s3://b/m", LOCK_STALE_MINUTES="11"))
        if writable:
            assert result.returncode == 0, result.stdout + result.stderr
            assert (model / ".vllm-models-complete").read_text() == "s3://b/m"
        else:
            assert result.returncode == 1
            assert result.stderr.startswith(
                f"vllm-models: {parent} is not writable by UID 2000 GID 0, so s3://b/m cannot be downloaded into "
                f"{model}; create it writable by that user or group 0 on every node (hostPath: install -d -m 0775 -g 0 "
                f"{parent}) or on the claim"), result.stderr
