"""`promote`: carry a model's file to the next environment in promotion order, then diff the renders.

The file is copied as is (its image tag, sizing and tuning are what the earlier environment proved),
except the NodePort: a model that already runs in the target keeps the target's port (clients use
it); a new one keeps its own port when the target has it free, else takes the next free port and
the change is declared in environments/fleet.yaml portChanges, as the fleet's drift rule requires.
And deployment.gpuMemoryUtilization where the two environments cap it differently (development's extra
margin, sizing.yaml gpuMemoryUtilization.developmentMax): the target keeps the value it has, or a new
model takes the seed's value for its type, as new-model would have written it there.
And the digests: an environment that runs only images pinned by digest (rules.yaml
images.digestEnvironments) gets the ones passed with --image-digest and --test-image-digest, the
registry's digests of the tags the earlier environment ran. The written release must pass the policies,
so without them promote refuses and names the images to read.
"""
from __future__ import annotations

import dataclasses
import functools
import json
import re
from decimal import Decimal

import yaml

from . import policy, ports, rules, scaffold, semdiff, yamledit
from . import render as harness
from . import toolchain


@dataclasses.dataclass(frozen=True)
class Promotion:
    name: str
    source: str
    target: str
    category: str
    source_file: str
    target_file: str
    replaced: bool  # the target had the model already
    port: int | None
    port_note: str
    port_change: dict | None  # the fleet.yaml portChanges entry added, if any
    exceptions_removed: tuple[str, ...] = ()  # policies/exceptions.yaml entries the pinned digests made stale
    utilization_note: str = ""  # how and why deployment.gpuMemoryUtilization changed, if it did


def find(name: str, env: str) -> tuple[str, str]:
    """(category, repo-relative file) of model NAME in env."""
    categories = harness.fleet_data().get("categories") or []
    for category in categories:
        relative = f"environments/{env}/{category}/{name}.yaml"
        if (toolchain.ROOT / relative).is_file():
            return category, relative
    looked = ", ".join(f"environments/{env}/{c}/{name}.yaml" for c in categories)
    raise scaffold.Refusal(f"model {name} is not in {env}: none of {looked} exists; "
                           f"`vllm-models ports --env {env}` lists the models there")


def check_order(source: str, target: str, force: bool) -> None:
    order = harness.environments()
    for env in (source, target):
        if env not in order:
            raise scaffold.Refusal(f"environment {env} is not in environments/fleet.yaml promotionOrder "
                                   f"({' -> '.join(order)})")
    if source == target:
        raise scaffold.Refusal(f"--from and --to are both {source}")
    step = order.index(target) - order.index(source)
    if step != 1 and not force:
        expected = order[order.index(source) + 1] if order.index(source) + 1 < len(order) else None
        why = "goes backwards" if step < 0 else f"skips {', '.join(order[order.index(source) + 1:order.index(target)])}"
        nxt = f"promote to {expected} first" if expected else f"{source} is the last environment"
        raise scaffold.Refusal(f"promoting {source} -> {target} {why} (promotion order {' -> '.join(order)}); "
                               f"{nxt}, or pass --force")


def pins_digests(env: str) -> bool:
    """Whether env runs only images pinned by digest (rules.yaml images.digestEnvironments, matched as the
    policy's regex.match does: anywhere in the name unless anchored)."""
    return re.search(rules.data()["images"]["digestEnvironments"], env) is not None


def command(name: str, source: str, target: str) -> str:
    """The promote command line for model `name`, with the digest flags where the target needs them."""
    line = f"vllm-models promote {name} --from {source} --to {target}"
    return line + (" --image-digest sha256:... --test-image-digest sha256:..." if pins_digests(target) else "")


@functools.lru_cache(maxsize=None)
def digest_pattern() -> re.Pattern:
    """image.digest's pattern in the chart's schema, without its empty alternative."""
    schema = json.loads((toolchain.CHART_DIR / "values.schema.json").read_text())
    return re.compile(schema["properties"]["image"]["properties"]["digest"]["pattern"].removeprefix("^$|"))


def pin_digests(text: str, target: str, target_file: str, image_digest: str | None,
                test_image_digest: str | None) -> str:
    """The model file's text with image.digest (and image.tag beside it, as the chart requires) and the
    helm test image's digest set."""
    for flag, value in (("--image-digest", image_digest), ("--test-image-digest", test_image_digest)):
        if value is not None and not digest_pattern().match(value):
            raise scaffold.Refusal(f"{flag} {value!r} is not a digest: `sha256:` and 64 lowercase hex digits, as "
                                   f"`crane digest IMAGE` prints it (nothing was written)")
    data = yaml.safe_load(text) or {}
    if image_digest:
        tag = (data.get("image") or {}).get("tag")
        if not tag:  # the digest pins one tag's content, so the tag it was read for is written beside it
            tag = harness.values_data(toolchain.ENVIRONMENTS_DIR / target / "values.yaml")["global"]["image"]["tag"]
            text = yamledit.set_key(text, ["image", "tag"], json.dumps(tag), label=target_file)
        text = yamledit.set_key(text, ["image", "digest"], json.dumps(image_digest), label=target_file)
    if test_image_digest:
        image = (data.get("helmTest") or {}).get("image") or harness.chart_default("helmTest.image")
        text = yamledit.set_key(text, ["helmTest", "image"], f"{image.split('@', 1)[0]}@{test_image_digest}",
                                label=target_file)
    return text


def target_utilization(text: str, source: str, target: str, category: str, target_file: str,
                       replaced: bool) -> tuple[str, str]:
    """The model file's text with the target's deployment.gpuMemoryUtilization, and a note saying why, where
    source and target cap it differently (scaffold.utilization_cap); else the text as is and no note."""
    source_cap, target_cap = scaffold.utilization_cap(source), scaffold.utilization_cap(target)
    values = yaml.safe_load(text) or {}
    given = (values.get("deployment") or {}).get("gpuMemoryUtilization")
    if source_cap == target_cap or given is None:
        return text, ""
    given = Decimal(str(given))
    if replaced:
        current = yaml.safe_load((toolchain.ROOT / target_file).read_text()) or {}
        kept = (current.get("deployment") or {}).get("gpuMemoryUtilization")
        value = Decimal(str(kept if kept is not None else harness.chart_default("deployment.gpuMemoryUtilization")))
        why = f"the value {target_file} has"
    else:
        shape = scaffold.shape_of(values, category)
        value = Decimal(scaffold.SHAPES[shape].gpu_memory_utilization)
        why = f"the seed's for a {shape} model (the value new-model writes there)"
    if target_cap is not None and value > target_cap:
        value, why = target_cap, "its cap (sizing.yaml gpuMemoryUtilization.developmentMax)"
    if value == given:
        return text, ""
    text = yamledit.set_key(text, ["deployment", "gpuMemoryUtilization"], f"{value.normalize():f}", label=target_file)
    held = (f"{source}'s cap (sizing.yaml gpuMemoryUtilization.developmentMax)"
            if source_cap is not None and given <= source_cap else f"what {source} runs")
    return text, f"{given.normalize():f} -> {value.normalize():f}: {given.normalize():f} is {held}; {target} takes {why}"


def unpinned_images(rendered: harness.Rendered) -> list[str]:
    """The images of the release's containers that name no digest, in render order."""
    pods = [t.spec for workload in rendered.workloads() for t in workload.templates]
    pods += [doc["spec"] for doc in rendered.objects("Pod")]  # the helm test pod
    images = []
    for pod in pods:
        for container in (pod.get("initContainers") or []) + (pod.get("containers") or []):
            image = container.get("image", "")
            if "@" not in image and image not in images:
                images.append(image)
    return images


def other_images(rendered: harness.Rendered, images: list[str]) -> str:
    """The advice for unpinned images the two flags do not reach (a download init container's)."""
    pods = [t.spec for workload in rendered.workloads() for t in workload.templates]
    flagged = {c["image"] for pod in pods + [p["spec"] for p in rendered.objects("Pod")] for c in pod["containers"]}
    others = [image for image in images if image not in flagged]
    if not others:
        return ""
    return (f"; {', '.join(others)} takes its digest in the model file (storage.download.<source>.image.digest, "
            f"the init container that fetches the weights)")


def prepare(name: str, source: str, target: str, *, force: bool = False, image_digest: str | None = None,
            test_image_digest: str | None = None) -> tuple[Promotion, yamledit.Edits]:
    """Work out the promotion and the edits, writing nothing."""
    check_order(source, target, force)
    category, source_file = find(name, source)
    target_file = f"environments/{target}/{category}/{name}.yaml"
    release = f"llms-v2-{name}"
    text = (toolchain.ROOT / source_file).read_text()
    source_port = ports.configured_port(harness.release(source, release))
    replaced = (toolchain.ROOT / target_file).is_file()
    port, change = source_port, None
    if replaced:
        port = ports.configured_port(harness.release(target, release))
        note = f"kept {port}, the port {release} already has in {target}"
    elif source_port is None:
        note = f"{source_file} sets no service.nodePort"
    elif source_port not in ports.taken([target], ignore_release=release):
        note = f"kept {source_port}: free in {target}"
    else:
        order = harness.environments()
        port = ports.next_free(category, order, ignore_release=release) \
            or ports.next_free(category, [target], ignore_release=release)
        if port is None:
            raise scaffold.Refusal(f"{source_port} is taken in {target} and no {category} port is free there "
                                   f"(environments/fleet.yaml portRanges); free one (`vllm-models ports --env {target}`)")
        holder = next(c for c in ports.claims(target) if c.port == source_port)
        change = {"release": release, "environment": target, "nodePort": port,
                  "reason": f"{source_port} is taken in {target} by {holder.release} ({holder.file})"}
        note = f"moved {source_port} -> {port}: {change['reason']}; declared in environments/fleet.yaml portChanges"
    if port is not None and port != source_port:
        text = yamledit.set_key(text, ["service", "nodePort"], str(port), label=target_file)
    text, utilization_note = target_utilization(text, source, target, category, target_file, replaced)
    text = pin_digests(text, target, target_file, image_digest, test_image_digest)
    edits = yamledit.Edits()
    edits.set(target_file, text)
    values_text, _warnings = yamledit.enable(target, category, name)
    edits.set(f"environments/{target}/values.yaml", values_text)
    if change:
        fleet_file = toolchain.ENVIRONMENTS_DIR / "fleet.yaml"
        edits.set("environments/fleet.yaml",
                  yamledit.append_item(fleet_file.read_text(), "portChanges", change, label="environments/fleet.yaml"))
    removed = ()
    pinned = yaml.safe_load(text) or {}
    if (pinned.get("image") or {}).get("digest") and "@" in str((pinned.get("helmTest") or {}).get("image", "")):
        # Both images pinned: an image_digest exception for the release would except nothing, which the tests refuse.
        def stale(entry: dict) -> bool:
            return (entry.get("environment"), entry.get("release"), entry.get("rule")) == (target, release, "image_digest")
        exceptions = policy.EXCEPTIONS_FILE.read_text()
        if any(stale(entry) for entry in (yaml.safe_load(exceptions) or {}).get("exceptions") or []):
            label = str(policy.EXCEPTIONS_FILE.relative_to(toolchain.ROOT))
            edits.set(label, yamledit.remove_items(exceptions, "exceptions", stale, label=label))
            removed = (f"{label}: image_digest for {release} in {target}",)
    return Promotion(name, source, target, category, source_file, target_file, replaced, port, note, change,
                     removed, utilization_note), edits


def promote(name: str, source: str, target: str, *, force: bool = False, image_digest: str | None = None,
            test_image_digest: str | None = None) -> tuple[Promotion, list[semdiff.ReleaseDiff]]:
    """Copy, enable, render in both environments; the semantic diff of the release between them."""
    promotion, edits = prepare(name, source, target, force=force, image_digest=image_digest,
                               test_image_digest=test_image_digest)
    release = f"llms-v2-{name}"
    try:
        after, _plan = scaffold.checked_write(edits, target, release, allow_over_quota=force)
    except scaffold.PolicyRefusal as refusal:
        if not any(v.rule == "image_digest" for v in refusal.denied):
            raise
        images = unpinned_images(refusal.rendered)
        raise scaffold.Refusal(
            f"environment {target} runs only images pinned by digest (charts/vllm-models/rules.yaml "
            f"images.digestEnvironments) and {promotion.source_file} pins none for {', '.join(images)}: read the "
            f"digests of the tags {source} ran from the registry ({'; '.join(f'crane digest {i}' for i in images)}) "
            f"and promote again with --image-digest sha256:... (the vLLM image) and --test-image-digest sha256:... "
            f"(the helm test image), or set image.digest and helmTest.image in {promotion.source_file} "
            f"first{other_images(refusal.rendered, images)}.\n{refusal}") from None
    before = harness.render(harness.release(source, release))
    return promotion, semdiff.diff_releases({release: before.documents}, {release: after.documents})

