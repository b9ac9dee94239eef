"""The e2e tier (`make e2e`): every environment on a real Kubernetes control plane with simulated GPU nodes.

A plane is started per test that needs one (fixture `cluster`) and always stopped, passing or failing;
`FIGURES` collects what the run measured and the terminal summary prints it.
"""
from __future__ import annotations

import time
from pathlib import Path

import pytest

import cluster as clusters

FIGURES: dict[str, object] = {}
STARTED = time.monotonic()


@pytest.fixture
def cluster(tmp_path: Path):
    """A fresh control plane (its own etcd) with kwok; stopped when the test ends, whatever happened."""
    started = time.monotonic()
    made = clusters.start(tmp_path / "plane")
    FIGURES.setdefault("plane start-up (s)", []).append(round(time.monotonic() - started, 1))
    try:
        yield made
    finally:
        made.plane.stop()


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    terminalreporter.section("e2e figures")
    FIGURES["e2e wall time (s)"] = round(time.monotonic() - STARTED, 1)
    for name, value in FIGURES.items():
        terminalreporter.write_line(f"{name}: {value}")
