"""The project's documentation stands alone: every relative link and every `docs/...` path it cites exists.

Read from the README, CONTRIBUTING, the chart's and the policies' READMEs, docs/, the package's sources and
every file under environments/. A Markdown link resolves against its file's folder, and a `#anchor` must be a
heading of the file it points to (GitHub's slugs); a `docs/...` path resolves against the repository root.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from vllm_models import toolchain

ROOT = toolchain.ROOT
MARKDOWN = [ROOT / "README.md", ROOT / "CONTRIBUTING.md", ROOT / "charts" / "vllm-models" / "README.md",
            ROOT / "policies" / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
CITING = [*MARKDOWN, *sorted((ROOT / "src" / "vllm_models").rglob("*.py")), *sorted((ROOT / "environments").rglob("*.yaml"))]
# Paths in other repositories, cited with the repository's name beside them.
FOREIGN = {
    "docs/NODEPORT-MANAGEMENT.md": "the seeds' repository (environments/fleet.yaml)",
    "docs/serving/parallelism_scaling.md": "vLLM's repository (policies/README.md, gpu_parallelism)",
    "docs/deployment/frameworks/lws.md": "vLLM's repository (policies/README.md)",
    "docs/runbooks/image-prepull.md": "fleetlyrun/fleetly, a digest's source (docs/image-digests.md)",
    "docs/L3_VLLM_RUNTIME.md": "Declade/lucairn-enterprise-deployment-kit, a digest's source (docs/image-digests.md)",
}
# Cited before it exists: another change of issue 24 (item 8, the fit check's calibration) writes it. Once it
# is merged, test_a_pending_document_is_still_missing fails: delete the entry, and the citations are checked.

LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")
CITED = re.compile(r"(?<![\w/.-])docs/[A-Za-z0-9_-][A-Za-z0-9_./-]*[A-Za-z0-9_]")
FENCE = re.compile(r"^```.*?^```", re.M | re.S)


def slug(heading: str) -> str:
    """GitHub's anchor for a Markdown heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    text = FENCE.sub("", path.read_text())
    return {slug(m.group(1)) for m in re.finditer(r"^#{1,6}\s+(.*?)\s*#*$", text, re.M)}


def relative_links() -> list[tuple[Path, str]]:
    found = []
    for path in MARKDOWN:
        for target in LINK.findall(FENCE.sub("", path.read_text())):
            if not re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
                found.append((path, target))
    return found


def citations() -> list[tuple[Path, str]]:
    return [(path, cited) for path in CITING for cited in CITED.findall(path.read_text())]


def where(path: Path) -> str:
    return str(path.relative_to(ROOT))


@pytest.mark.parametrize("path, target", relative_links(), ids=lambda value: str(value).rsplit("/", 1)[-1])
def test_every_relative_link_resolves_to_a_file_and_heading_of_the_repository(path, target):
    file, _, anchor = target.partition("#")
    resolved = (path.parent / file).resolve() if file else path
    assert resolved.exists(), f"{where(path)} links {target}: {resolved} does not exist"
    assert ROOT in resolved.parents or resolved == ROOT, f"{where(path)} links {target}, outside the repository"
    if anchor and resolved.suffix == ".md":
        assert anchor in anchors(resolved), f"{where(path)} links {target}: {where(resolved)} has no heading #{anchor}"


def test_every_cited_docs_path_exists_in_the_repository():
    missing = [f"{where(path)} cites {cited}" for path, cited in citations()
               if cited not in FOREIGN and not (ROOT / cited).exists()]
    assert missing == [], "\n".join(missing)


def test_every_foreign_path_is_still_cited():
    cited = {path for _, path in citations()}
    stale = sorted(set(FOREIGN) - cited)
    assert stale == [], f"tests/test_doc_links.py lists paths no file cites any more: {stale}"


