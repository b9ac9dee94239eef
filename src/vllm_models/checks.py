"""Per-release invariants on rendered manifests (the first ones; the Rego policies generalize them)."""
from __future__ import annotations

from .fleet import where
from .render import Rendered


def flag_value(args: list[str], flag: str, default: str | None = None) -> str | None:
    """Value of `--flag value` or `--flag=value` in a command line (the last one wins, as in argparse)."""
    value = default
    for index, arg in enumerate(args):
        if arg == flag and index + 1 < len(args):
            value = args[index + 1]
        elif arg.startswith(flag + "="):
            value = arg.split("=", 1)[1]
    return value


def gpu_parallelism(rendered: Rendered) -> list[str]:
    """tensor-parallel x pipeline-parallel in the args == nvidia.com/gpu limit == request == numGPUs."""
    container = rendered.container()
    args = container.get("args", [])
    tp = int(flag_value(args, "--tensor-parallel-size", "1"))
    pp = int(flag_value(args, "--pipeline-parallel-size", "1"))
    limits = container.get("resources", {}).get("limits", {})
    requests = container.get("resources", {}).get("requests", {})
    gpu_limit, gpu_request = limits.get("nvidia.com/gpu"), requests.get("nvidia.com/gpu")
    num_gpus = rendered.release.values().get("deployment", {}).get("numGPUs")
    name = rendered.one("Deployment")["metadata"]["name"]
    problems = []
    if str(tp * pp) != str(gpu_limit):
        problems.append(f"{where(rendered)}: Deployment {name} runs --tensor-parallel-size {tp} x "
                        f"--pipeline-parallel-size {pp} = {tp * pp} but its nvidia.com/gpu limit is {gpu_limit}; "
                        f"set deployment.tensorParallel x pipelineParallel equal to deployment.numGPUs")
    if str(gpu_limit) != str(gpu_request):
        problems.append(f"{where(rendered)}: Deployment {name} nvidia.com/gpu request {gpu_request} != limit {gpu_limit}")
    if num_gpus is not None and str(num_gpus) != str(gpu_limit):
        problems.append(f"{where(rendered)}: Deployment {name} nvidia.com/gpu limit {gpu_limit} != deployment.numGPUs {num_gpus}")
    return problems


def guaranteed_qos(rendered: Rendered) -> list[str]:
    """Every container's requests equal its limits for cpu, memory and GPUs (Guaranteed QoS)."""
    problems = []
    for doc in rendered.objects("Deployment"):
        for container in doc["spec"]["template"]["spec"]["containers"]:
            resources = container.get("resources", {})
            limits, requests = resources.get("limits", {}), resources.get("requests", {})
            for resource in ("cpu", "memory", "nvidia.com/gpu"):
                if str(limits.get(resource)) != str(requests.get(resource, limits.get(resource))) or resource not in limits:
                    problems.append(
                        f"{where(rendered)}: Deployment {doc['metadata']['name']} container {container['name']} "
                        f"{resource} request {requests.get(resource)} != limit {limits.get(resource)}; "
                        f"set resources.requests.{resource} equal to resources.limits.{resource} (Guaranteed QoS)")
    return problems
