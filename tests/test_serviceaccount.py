"""The ServiceAccount: one per release by default, and no API token in the pods either way."""
from __future__ import annotations
from charts import render_chart
from vllm_models import rules



def pod_spec(rendered) -> dict:
    return rendered.workload().template["spec"]


def test_no_release_of_any_environment_mounts_an_api_token(rendered):
    where = f"environment {rendered.release.environment}, release {rendered.release.name}"
    for pod in rendered.workload().templates:  # a multi-node group's leader and workers
        assert pod.spec["automountServiceAccountToken"] is False, f"{where}: the {pod.role} pod automounts its token"
    for account in rendered.objects("ServiceAccount"):
        assert account["automountServiceAccountToken"] is False, f"{where}: ServiceAccount {account['metadata']['name']} automounts"


def test_each_release_runs_as_its_own_service_account_by_default():
    rendered = render_chart(example="single-gpu")
    account = rendered.one("ServiceAccount")
    assert account["metadata"]["name"] == "llms-v2-qwen3-32b"
    assert account["automountServiceAccountToken"] is False
    assert pod_spec(rendered)["serviceAccountName"] == "llms-v2-qwen3-32b"


def test_a_named_account_with_annotations_is_created(tmp_path):
    rendered = render_chart(example="single-gpu", values={"serviceAccount": {
        "name": "inference", "annotations": {"iam.example.com/role": "reader"}}})
    account = rendered.one("ServiceAccount")
    assert account["metadata"]["name"] == "inference"
    assert account["metadata"]["annotations"] == {"iam.example.com/role": "reader"}
    assert pod_spec(rendered)["serviceAccountName"] == "inference"


def test_an_existing_account_is_used_without_creating_one(tmp_path):
    rendered = render_chart(example="single-gpu", values={"serviceAccount": {"create": False, "name": "shared"}})
    assert rendered.objects("ServiceAccount") == []
    assert pod_spec(rendered)["serviceAccountName"] == "shared"
    assert pod_spec(rendered)["automountServiceAccountToken"] is False


def test_without_creating_or_naming_one_the_pods_use_the_namespace_default(tmp_path):
    rendered = render_chart(example="single-gpu", values={"serviceAccount": {"create": False}})
    assert pod_spec(rendered)["serviceAccountName"] == "default"


def test_a_role_for_the_download_goes_on_the_account_and_still_no_api_token_is_mounted():
    """EKS's webhook projects a token of its own audience for the role: the Kubernetes API token stays unmounted."""
    role = rules.data()["workloadIdentity"]["roleAnnotation"]
    arn = "arn:aws:iam::111122223333:role/model-reader"
    rendered = render_chart(example="s3-delivery", values={
        "storage": {"download": {"s3": {"endpoint": "", "auth": "irsa", "credentialsSecret": {"name": ""}}}},
        "serviceAccount": {"annotations": {role: arn}}})
    account = rendered.one("ServiceAccount")
    assert account["metadata"]["annotations"] == {role: arn}
    assert account["automountServiceAccountToken"] is False
    assert pod_spec(rendered)["serviceAccountName"] == account["metadata"]["name"]
    assert pod_spec(rendered)["automountServiceAccountToken"] is False
