"""`promote`: carry a model's file to the next environment in promotion order, then diff the renders.

The file is copied as is (its image tag, sizing and tuning are what the earlier environment proved),
except the NodePort: a model that already runs in the target keeps the target's port (clients use
it); a new one keeps its own port when the target has it free, else takes the next free port and
the change is declared in environments/fleet.yaml portChanges, as the fleet's drift rule requires.
"""
from __future__ import annotations

import dataclasses

from . import ports, scaffold, semdiff, yamledit
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


def prepare(name: str, source: str, target: str, *, force: bool = False) -> tuple[Promotion, yamledit.Edits]:
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
    edits = yamledit.Edits()
    edits.set(target_file, text)
    values_text, _warnings = yamledit.enable(target, category, name)
    edits.set(f"environments/{target}/values.yaml", values_text)
    if change:
        fleet_file = toolchain.ENVIRONMENTS_DIR / "fleet.yaml"
        edits.set("environments/fleet.yaml",
                  yamledit.append_item(fleet_file.read_text(), "portChanges", change, label="environments/fleet.yaml"))
    return Promotion(name, source, target, category, source_file, target_file, replaced, port, note, change), edits


def promote(name: str, source: str, target: str, *, force: bool = False) -> tuple[Promotion, list[semdiff.ReleaseDiff]]:
    """Copy, enable, render in both environments; the semantic diff of the release between them."""
    promotion, edits = prepare(name, source, target, force=force)
    release = f"llms-v2-{name}"
    after, _plan = scaffold.checked_write(edits, target, release, allow_over_quota=force)
    before = harness.render(harness.release(source, release))
    return promotion, semdiff.diff_releases({release: before.documents}, {release: after.documents})

