"""One input, one verdict: where the chart and the policies judge the same thing, they agree.

The chart refuses values before anything renders (_validate.tpl); the policies judge rendered objects,
including ones no chart of ours wrote. Both read their patterns and lists from charts/vllm-models/rules.yaml.
Each case here goes to both: the chart gets it as values, the policies get a render patched to hold it.
"""
from __future__ import annotations

import copy
import dataclasses

import pytest

from charts import render_chart
from vllm_models import policy, promote, rules, vllm_versions
from vllm_models import render as harness

EXAMPLE = "single-gpu"


def chart_refuses(values: dict, fragment: str) -> bool:
    try:
        render_chart(values, example=EXAMPLE)
    except harness.RenderError as error:
        assert fragment in error.reason, f"the chart refused for another reason: {error.reason}"
        return True
    return False


def policy_denies(patch, rule: str, *, whole_deployment: bool = False) -> bool:
    """Whether `rule` denies the example's render with its pod spec (or, with whole_deployment, its
    Deployment) changed by `patch`."""
    def patch_deployment(documents):
        deployment = next(d for d in documents if d["kind"] == "Deployment")
        patch(deployment if whole_deployment else deployment["spec"]["template"]["spec"])
    return policy_denies_release(None, patch_deployment, rule)


def policy_denies_release(values: dict | None, patch, rule: str) -> bool:
    """Whether `rule` denies the example rendered with `values`, its documents changed by `patch`."""
    rendered = render_chart(values, example=EXAMPLE)
    documents = copy.deepcopy(rendered.documents)
    patch(documents)
    rel = dataclasses.replace(rendered.release, environment="agree")
    violations = policy.evaluate_release(harness.Rendered(rel, documents, rendered.manifest))
    return any(v.rule == rule and v.severity == "deny" for v in violations)


SECRET_CASES = [
    ("TOKENIZERS_PARALLELISM", "false", False),  # a word that starts with TOKEN is not a token
    ("HF_TOKEN", "abc", True),
    ("MY_API_KEY", "abc", True),
    ("MY_APIKEY", "abc", True),
    ("AWS_SECRET_ACCESS_KEY", "abc", True),
    ("db_password", "abc", True),  # names are compared upper-cased
    ("PASSWD_FILE", "/run/x", True),
    ("CREDENTIALS", "abc", True),
    ("GITHUB_TOKENS_DIR", "/x", False),  # TOKENS is not TOKEN
    ("VLLM_EXTRA_SETTING", "hf_" + "a" * 20, True),  # the value looks like a Hugging Face token: exactly 20 characters
    ("VLLM_EXTRA_SETTING", "hf_" + "a" * 19, False),  # one short of the pattern
    ("VLLM_EXTRA_SETTING", "WARN", False),
]


@pytest.mark.parametrize("name, value, credential", SECRET_CASES, ids=[f"{n}={v[:8]}" for n, v, _ in SECRET_CASES])
def test_the_chart_and_the_policy_agree_on_which_env_literals_are_credentials(name, value, credential):
    refused = chart_refuses({"extraEnv": [{"name": name, "value": value}]}, "looks like a credential")

    def add(spec):
        spec["containers"][0]["env"].append({"name": name, "value": value})
    denied = policy_denies(add, "env_secret_literals")
    assert (refused, denied) == (credential, credential), (
        f"extraEnv {name}={value!r}: chart refuses {refused}, policy env_secret_literals denies {denied}; "
        f"both read charts/vllm-models/rules.yaml secrets and must agree (expected {credential})")


# The chart renders --shutdown-timeout from deployment.shutdownTimeoutSeconds on a vLLM that has the flag.
SHUTDOWN_TAG = "v" + next(e["version"] for e in vllm_versions.committed()["versions"] if e["flags"]["--shutdown-timeout"])
GRACE_CASES = [  # (grace, preStop, --shutdown-timeout, enough); all above the example's 120 s grace-table floor
    (131, 100, 30, True),  # one past preStop + drain
    (130, 100, 30, False),  # exactly preStop + drain: vLLM is killed as it finishes
    (131, 130, None, True),  # no drain flag: one past the pause
    (130, 130, None, False),
]


@pytest.mark.parametrize("grace, pause, drain, enough", GRACE_CASES,
                         ids=[f"grace{g}-pause{p}-drain{d}" for g, p, d, _ in GRACE_CASES])
def test_the_chart_and_the_policy_agree_on_the_grace_period_that_covers_a_drain(grace, pause, drain, enough):
    extra = ["--shutdown-timeout", str(drain)] if drain is not None else []
    refused = chart_refuses({"deployment": {"terminationGracePeriodSeconds": grace, "preStopSleepSeconds": pause,
                                            "shutdownTimeoutSeconds": drain or 0}, "image": {"tag": SHUTDOWN_TAG}},
                            "must exceed deployment.preStopSleepSeconds")

    def patch(spec):
        spec["terminationGracePeriodSeconds"] = grace
        container = spec["containers"][0]
        container["lifecycle"]["preStop"]["exec"]["command"] = ["sleep", str(pause)]
        container["args"] = container["args"] + extra
    denied = policy_denies(patch, "grace_covers_shutdown")
    assert (refused, denied) == (not enough, not enough), (
        f"grace {grace}s, preStop {pause}s, --shutdown-timeout {drain}: chart refuses {refused}, policy "
        f"grace_covers_shutdown denies {denied}; expected {'pass' if enough else 'refusal'} from both")


LIVENESS_CASES = [  # (failureThreshold, periodSeconds, timeoutSeconds, tolerant); rules.yaml liveness: 2, 5 s, 60 s
    (3, 30, 10, True),  # the chart's default
    (2, 30, 5, True),  # every minimum exactly
    (1, 60, 10, False),  # one failure restarts
    (3, 30, 4, False),  # one second under the timeout
    (3, 20, 5, True),  # a window of exactly 60 s
    (3, 19, 5, False),  # 57 s
    (1, 1, 1, False),  # the issue's hair trigger
]


@pytest.mark.parametrize("failures, period, timeout, tolerant", LIVENESS_CASES,
                         ids=[f"fail{f}-period{p}-timeout{t}" for f, p, t, _ in LIVENESS_CASES])
def test_the_chart_and_the_policy_agree_on_a_liveness_probe_that_tolerates_a_slow_answer(failures, period, timeout, tolerant):
    probe = {"failureThreshold": failures, "periodSeconds": period, "timeoutSeconds": timeout}
    refused = chart_refuses({"probes": {"liveness": probe}}, "probes.liveness.")

    def patch(spec):
        spec["containers"][0]["livenessProbe"].update(probe)
    denied = policy_denies(patch, "liveness_tolerance")
    assert (refused, denied) == (not tolerant, not tolerant), (
        f"liveness {probe}: chart refuses {refused}, policy liveness_tolerance denies {denied}; both read "
        f"charts/vllm-models/rules.yaml liveness (expected {'pass' if tolerant else 'refusal'})")


REMOTE_CODE_CASES = [  # (trustRemoteCode, reason, allowed)
    (False, "", True),
    (True, "InternVLChatModel: transformers has no internvl_chat config type", True),
    (True, "", False),
    (True, "   ", False),  # blank is no reason
]


@pytest.mark.parametrize("trust, reason, allowed", REMOTE_CODE_CASES,
                         ids=[f"trust{t}-reason{r.strip()[:12] or 'blank'}" for t, r, _ in REMOTE_CODE_CASES])
def test_the_chart_and_the_policy_agree_that_remote_code_needs_a_reason(trust, reason, allowed):
    refused = chart_refuses({"deployment": {"trustRemoteCode": trust, "trustRemoteCodeReason": reason}},
                            "deployment.trustRemoteCodeReason is empty")
    annotation = rules.data()["remoteCode"]["reasonAnnotation"]

    def patch(deployment):
        if trust:
            deployment["spec"]["template"]["spec"]["containers"][0]["args"].append(rules.data()["remoteCode"]["flags"][0])
            deployment["metadata"]["annotations"][annotation] = reason
    denied = policy_denies(patch, "trust_remote_code", whole_deployment=True)
    assert (refused, denied) == (not allowed, not allowed), (
        f"deployment.trustRemoteCode {trust}, reason {reason!r}: chart refuses {refused}, policy trust_remote_code "
        f"denies {denied}; expected {'pass' if allowed else 'refusal'} from both")


NODEPORT_CASES = [  # (service type, client CIDRs, clients get in)
    ("NodePort", ["203.0.113.0/24"], True),
    ("NodePort", [], False),  # the production NetworkPolicy before issue 18: namespaces only
    ("LoadBalancer", [], False),
    ("ClusterIP", [], True),  # nothing reaches it from outside the cluster
]


@pytest.mark.parametrize("kind, cidrs, admitted", NODEPORT_CASES,
                         ids=[f"{k}-{len(c)}-ranges" for k, c, _ in NODEPORT_CASES])
def test_the_chart_and_the_policy_agree_that_nodeport_clients_need_a_client_range(kind, cidrs, admitted):
    service = {"type": kind} if kind != "ClusterIP" else {"type": kind, "nodePort": None}
    refused = chart_refuses({"networkPolicy": {"enabled": True, "clientCIDRs": cidrs}, "service": service},
                            "but no client CIDRs are listed")

    def patch(documents):
        for doc in documents:
            if doc["kind"] == "Service":
                doc["spec"]["type"] = kind
                if kind == "ClusterIP":
                    doc["spec"]["ports"][0].pop("nodePort", None)
                    doc["spec"].pop("externalTrafficPolicy", None)
            if doc["kind"] == "NetworkPolicy" and not cidrs:
                doc["spec"]["ingress"] = [rule for rule in doc["spec"]["ingress"]
                                          if not any("ipBlock" in peer for peer in rule.get("from", []))]
    denied = policy_denies_release({"networkPolicy": {"enabled": True, "clientCIDRs": ["203.0.113.0/24"]}}, patch,
                                   "nodeport_clients_admitted")
    assert (refused, denied) == (not admitted, not admitted), (
        f"Service {kind}, client CIDRs {cidrs}: chart refuses {refused}, policy nodeport_clients_admitted denies "
        f"{denied}; expected {'pass' if admitted else 'refusal'} from both")


SOURCE_CASES = [  # (name, valueFrom, allowed)
    ("HF_TOKEN", {"secretKeyRef": {"name": "hf", "key": "token"}}, True),
    ("HF_TOKEN", {"configMapKeyRef": {"name": "settings", "key": "token"}}, False),
    ("MY_API_KEY", {"fieldRef": {"fieldPath": "metadata.name"}}, False),
    ("POD_NAME", {"fieldRef": {"fieldPath": "metadata.name"}}, True),  # not a credential name
]


@pytest.mark.parametrize("name, source, allowed", SOURCE_CASES, ids=[f"{n}-{next(iter(s))}" for n, s, _ in SOURCE_CASES])
def test_the_chart_and_the_policy_agree_that_credentials_come_only_from_secrets(name, source, allowed):
    refused = chart_refuses({"extraEnv": [{"name": name, "valueFrom": source}]}, "a credential comes only from a Secret")

    def add(spec):
        spec["containers"][0]["env"].append({"name": name, "valueFrom": source})
    denied = policy_denies(add, "env_secret_source")
    assert (refused, denied) == (not allowed, not allowed), (
        f"extraEnv {name} valueFrom {source}: chart refuses {refused}, policy env_secret_source denies {denied}; "
        f"expected {'pass' if allowed else 'refusal'} from both (rules.yaml secrets.namePattern)")


def test_promote_asks_for_digests_exactly_where_the_image_digest_policy_demands_them():
    names = [*harness.environments(), "pre-production", "production", "productionx", "staging-production"]
    rendered = render_chart(example=EXAMPLE)
    renders = [harness.Rendered(dataclasses.replace(rendered.release, environment=name), rendered.documents,
                                rendered.manifest) for name in names]
    for name, violations in zip(names, policy.evaluate(renders)):
        denied = any(v.rule == "image_digest" and v.severity == "deny" for v in violations)
        assert promote.pins_digests(name) is denied, (
            f"environment {name}: promote.pins_digests says {promote.pins_digests(name)}, policy image_digest "
            f"{'denies' if denied else 'passes'} an image without a digest (rules.yaml images.digestEnvironments "
            f"{rules.data()['images']['digestEnvironments']!r})")


ROLE = {"serviceAccount": {"annotations": {
    rules.data()["workloadIdentity"]["roleAnnotation"]: "arn:aws:iam::111122223333:role/model-reader"}}}


@pytest.mark.parametrize("skip_annotation_kept", [True, False])
def test_a_role_on_the_release_account_reaches_vllm_only_if_the_webhook_is_not_told_to_skip_it(skip_annotation_kept):
    """The chart names vLLM in the webhook's skip annotation whenever its ServiceAccount has a role (cloud_role_scope)."""
    skip = rules.data()["workloadIdentity"]["skipContainersAnnotation"]

    def patch(documents):
        pod = next(d for d in documents if d["kind"] == "Deployment")["spec"]["template"]
        assert skip in pod["metadata"]["annotations"], f"example {EXAMPLE}: the chart left out {skip}"
        if not skip_annotation_kept:
            del pod["metadata"]["annotations"][skip]
    assert policy_denies_release(ROLE, patch, "cloud_role_scope") is not skip_annotation_kept
