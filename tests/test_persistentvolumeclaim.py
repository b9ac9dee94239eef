"""Model storage: the seeds' host path (release, else environment), an existing claim, or a claim the chart creates; always read-only."""
from __future__ import annotations
from charts import render_chart



def models_volume(rendered) -> dict:
    volumes = rendered.one("Deployment")["spec"]["template"]["spec"]["volumes"]
    return next(v for v in volumes if v["name"] == "models")


def models_mount(rendered) -> dict:
    return next(m for m in rendered.container()["volumeMounts"] if m["name"] == "models")


def test_every_release_of_every_environment_mounts_its_models_read_only(rendered):
    mount = models_mount(rendered)
    assert mount["readOnly"] is True, (f"environment {rendered.release.environment}, release {rendered.release.name}: "
                                       f"models mounted {mount}")


def test_the_release_host_path_wins_over_the_environments(tmp_path):
    rendered = render_chart(example="single-gpu", values={"global": {"hps": {"models": {"path": "/var/env-models/"}}}})
    assert models_volume(rendered)["hostPath"] == {"path": "/var/modas-models/fp8_models/", "type": "Directory"}
    assert rendered.objects("PersistentVolumeClaim") == []


def test_without_a_release_host_path_the_environments_is_used(tmp_path):
    rendered = render_chart(example="single-gpu", values={"hps": {"models": {"path": ""}},
                                                         "global": {"hps": {"models": {"path": "/var/env-models/"}}}})
    assert models_volume(rendered)["hostPath"]["path"] == "/var/env-models/"


def test_an_existing_claim_is_mounted_read_only_and_none_is_created(tmp_path):
    rendered = render_chart(example="single-gpu", values={"storage": {"type": "existingClaim", "existingClaim": "models"}})
    assert models_volume(rendered) == {"name": "models", "persistentVolumeClaim": {"claimName": "models", "readOnly": True}}
    assert rendered.objects("PersistentVolumeClaim") == []


def test_a_claim_the_chart_creates_outlives_the_release(tmp_path):
    rendered = render_chart(example="single-gpu", values={"storage": {"type": "pvc", "pvc": {
        "size": "1Ti", "storageClassName": "nfs", "accessModes": ["ReadOnlyMany"]}}})
    claim = rendered.one("PersistentVolumeClaim")
    assert claim["metadata"]["name"] == "llms-v2-qwen3-32b"
    assert claim["metadata"]["annotations"] == {"helm.sh/resource-policy": "keep"}
    assert claim["metadata"]["labels"] == rendered.one("Deployment")["metadata"]["labels"]
    assert claim["spec"] == {"accessModes": ["ReadOnlyMany"], "storageClassName": "nfs",
                             "resources": {"requests": {"storage": "1Ti"}}}
    assert models_volume(rendered)["persistentVolumeClaim"] == {"claimName": "llms-v2-qwen3-32b", "readOnly": True}


def test_a_created_claim_without_a_storage_class_uses_the_cluster_default(tmp_path):
    claim = render_chart(example="single-gpu", values={"storage": {"type": "pvc"}}).one("PersistentVolumeClaim")
    assert "storageClassName" not in claim["spec"]


def test_the_models_are_mounted_read_only_at_the_mount_path(tmp_path):
    rendered = render_chart(example="single-gpu", values={"storage": {"mountPath": "/weights"},
                                                         "deployment": {"model": "/weights/Qwen/Qwen3-32B-FP8"}})
    assert models_mount(rendered) == {"name": "models", "mountPath": "/weights", "readOnly": True}
    assert rendered.container()["args"][0] == "/weights/Qwen/Qwen3-32B-FP8"
