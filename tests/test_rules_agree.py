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
from vllm_models import policy, vllm_versions
from vllm_models import render as harness

EXAMPLE = "single-gpu"


def chart_refuses(values: dict, fragment: str) -> bool:
    try:
        render_chart(values, example=EXAMPLE)
    except harness.RenderError as error:
        assert fragment in error.reason, f"the chart refused for another reason: {error.reason}"
        return True
    return False


def policy_denies(patch, rule: str) -> bool:
    rendered = render_chart(example=EXAMPLE)
    documents = copy.deepcopy(rendered.documents)
    deployment = next(d for d in documents if d["kind"] == "Deployment")
    patch(deployment["spec"]["template"]["spec"])
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
    (1, 1, 1, False),  # the hair trigger
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
