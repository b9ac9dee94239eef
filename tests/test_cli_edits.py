"""The textual YAML edits new-model and promote make (one key changes, every comment and line stays), and the
progress lines the CLI prints while it works."""
from __future__ import annotations

import contextlib
import re

import pytest
import yaml

from vllm_models import cli, yamledit

VALUES = """\
# Staging: production-like validation.

language:
  enabled: true
  models:
    qwen3-32b:
      enabled: false  # waiting for weights
    deepseek-r1:
      enabled: true

# Settings every release gets.
global:
  image:
    tag: v0.11.0
"""


def test_a_new_model_flag_goes_at_the_end_of_its_categorys_models():
    edited = yamledit.set_key(VALUES, ["language", "models", "llama-70b", "enabled"], "true", label="values.yaml")
    assert edited == VALUES.replace("    deepseek-r1:\n      enabled: true\n",
                                    "    deepseek-r1:\n      enabled: true\n    llama-70b:\n      enabled: true\n")


def test_an_existing_flag_is_flipped_in_place_keeping_its_comment():
    edited = yamledit.set_key(VALUES, ["language", "models", "qwen3-32b", "enabled"], "true", label="values.yaml")
    assert edited == VALUES.replace("enabled: false  # waiting for weights", "enabled: true  # waiting for weights")


def test_a_missing_category_is_added_as_a_block_at_the_end():
    edited = yamledit.set_key(VALUES, ["vision-language", "models", "gemma", "enabled"], "true", label="values.yaml")
    assert edited == VALUES + "\nvision-language:\n  models:\n    gemma:\n      enabled: true\n"


def test_a_flow_style_block_is_refused_with_the_file_and_key():
    flow = VALUES.replace("  models:\n    qwen3-32b:\n      enabled: false  # waiting for weights\n"
                          "    deepseek-r1:\n      enabled: true\n", "  models: {qwen3-32b: {enabled: true}}\n")
    with pytest.raises(yamledit.EditError) as error:
        yamledit.set_key(flow, ["language", "models", "llama-70b", "enabled"], "true", label="environments/x/values.yaml")
    assert str(error.value) == ("environments/x/values.yaml: language.models is written in flow style "
                                "({qwen3-32b: {enabled: true}}); write it as an indented block")


def test_a_port_change_entry_turns_an_empty_list_into_a_block_list():
    fleet = "# Deliberate port differences.\nportChanges: []\n"
    entry = {"release": "llms-v2-a", "environment": "production-jp", "nodePort": 30026, "reason": "taken"}
    edited = yamledit.append_item(fleet, "portChanges", entry, label="environments/fleet.yaml")
    assert edited == ("# Deliberate port differences.\nportChanges:\n  - release: llms-v2-a\n"
                      "    environment: production-jp\n    nodePort: 30026\n    reason: taken\n")
    again = yamledit.append_item(edited, "portChanges", dict(entry, release="llms-v2-b"), label="environments/fleet.yaml")
    assert again == edited + ("  - release: llms-v2-b\n    environment: production-jp\n    nodePort: 30026\n"
                              "    reason: taken\n")


EXCEPTIONS = """\
# Deliberate deviations.
exceptions:
  - environment: production-vn
    release: llms-v2-a
    rule: image_digest
    reason: &unknown >-
      no digest is known
      yet
  - environment: production-vn
    release: llms-v2-b
    rule: image_digest
    reason: *unknown
  - environment: production-jp
    release: llms-v2-c
    rule: image_digest
    reason: *unknown
other: kept
"""


def releases_of(text: str) -> list[str]:
    return [entry["release"] for entry in yaml.safe_load(text)["exceptions"]]


def test_removing_the_entry_that_defines_an_anchor_moves_it_to_the_first_alias_that_stays():
    edited = yamledit.remove_items(EXCEPTIONS, "exceptions", lambda e: e["release"] == "llms-v2-a", label="x.yaml")
    assert edited == EXCEPTIONS.replace(
        "  - environment: production-vn\n    release: llms-v2-a\n    rule: image_digest\n    reason: &unknown >-\n"
        "      no digest is known\n      yet\n", "").replace(
        "    release: llms-v2-b\n    rule: image_digest\n    reason: *unknown\n",
        "    release: llms-v2-b\n    rule: image_digest\n    reason: &unknown >-\n      no digest is known\n      yet\n")
    assert [e["reason"] for e in yaml.safe_load(edited)["exceptions"]] == ["no digest is known yet"] * 2


def test_removing_an_entry_that_uses_an_alias_removes_its_lines_alone():
    edited = yamledit.remove_items(EXCEPTIONS, "exceptions", lambda e: e["release"] == "llms-v2-b", label="x.yaml")
    assert edited == EXCEPTIONS.replace("  - environment: production-vn\n    release: llms-v2-b\n    rule: image_digest\n"
                                        "    reason: *unknown\n", "")
    assert releases_of(edited) == ["llms-v2-a", "llms-v2-c"]


def test_removing_every_entry_that_shares_an_anchor_drops_the_anchor_with_them():
    edited = yamledit.remove_items(EXCEPTIONS, "exceptions", lambda e: True, label="x.yaml")
    assert edited == "# Deliberate deviations.\nexceptions: []\nother: kept\n"


def test_removing_nothing_leaves_the_text_as_it_was():
    assert yamledit.remove_items(EXCEPTIONS, "exceptions", lambda e: False, label="x.yaml") == EXCEPTIONS


def test_a_list_whose_items_share_a_line_is_refused_naming_the_file():
    with pytest.raises(yamledit.EditError, match="x.yaml: the items of exceptions are not one block each"):
        yamledit.remove_items("exceptions: [{a: 1}, {a: 2}]\n", "exceptions", lambda e: e["a"] == 1, label="x.yaml")


@pytest.mark.parametrize("refused, ending", [(True, "stopped after"), (False, "done in")])
def test_slow_work_ends_its_progress_with_done_or_with_stopped_when_it_is_refused(capsys, refused, ending):
    progress = cli.Progress("adding m to staging")
    with pytest.raises(RuntimeError) if refused else contextlib.nullcontext():
        with progress:
            progress._printed = "vllm-models: adding m to staging ..."  # as the status thread does after a second
            if refused:
                raise RuntimeError("refused")
    assert re.fullmatch(rf"vllm-models: adding m to staging: {ending} [0-9.]+s\n", capsys.readouterr().err)


def test_quick_work_prints_no_progress_at_all(capsys):
    with cli.Progress("adding m to staging"):
        pass
    assert capsys.readouterr().err == ""
