"""The live tier (`make live`): the e2e control plane plus one real node (e2e/node.py), where pods run.

The node is the first GPU pool of the `live` environment (e2e/live/environment/values.yaml nodePools): its
labels, its taint and its GPU count (advertised as an extended resource; no device exists). Fixture `live` joins the node to e2e/conftest.py's `cluster`, whose
stop removes the node too, passing or failing; FIGURES collects what the run measured.
"""
from __future__ import annotations

import os

import pytest

import cluster as clusters  # e2e/ is on sys.path: e2e/conftest.py's folder
import livenode
from livenode import FIGURES


def pytest_sessionstart(session) -> None:
    if os.geteuid() != 0:
        pytest.exit("the live tier runs containerd and a kubelet: it needs root (and Linux)", returncode=2)


@pytest.fixture
def live(cluster: clusters.Cluster) -> livenode.Live:
    """The plane of `cluster` with one real node of the live environment's first GPU pool, Ready."""
    return livenode.join(cluster)


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    terminalreporter.section("live figures")
    for name, value in FIGURES.items():
        terminalreporter.write_line(f"{name}: {value}")
