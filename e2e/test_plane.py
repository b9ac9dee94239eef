"""The control plane the e2e tier starts leaves nothing running or bound, however the test ends."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import plane as planes

HERE = Path(__file__).resolve().parent


def leftovers(state: dict) -> list[str]:
    alive = [f"{name} (process group {proc['pgid']})" for name, proc in state["procs"].items()
             if planes._group_alive(proc["pgid"])]
    bound = [f"port {port} ({name})" for name, port in state["ports"].items() if planes._port_bound(port)]
    return alive + bound


def gone_within(state: dict, seconds: float) -> list[str]:
    deadline = time.monotonic() + seconds
    while leftovers(state) and time.monotonic() < deadline:
        time.sleep(0.2)
    return leftovers(state)


def test_a_failing_test_stops_every_component_and_frees_every_port(tmp_path):
    plane = planes.up(tmp_path / "plane")
    state = json.loads((tmp_path / "plane" / "state.json").read_text())
    assert leftovers(state), "the plane is not running"
    with pytest.raises(RuntimeError):
        try:
            raise RuntimeError("a test fails half-way")
        finally:
            plane.stop()
    assert gone_within(state, 10) == []


def test_a_killed_harness_takes_its_control_plane_with_it(tmp_path):
    directory = tmp_path / "plane"
    harness = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from pathlib import Path; sys.path.insert(0, sys.argv[1]); "
                               "import plane; plane.up(Path(sys.argv[2]), tie=True); print('up', flush=True); "
                               "time.sleep(600)", str(HERE), str(directory)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, start_new_session=True)
    try:
        assert harness.stdout.readline().strip() == "up", "the plane did not start"
        state = json.loads((directory / "state.json").read_text())
        os.kill(harness.pid, signal.SIGKILL)  # no finally, no signal handler: only PR_SET_PDEATHSIG can act
        harness.wait(10)
        left = gone_within(state, 15)
    finally:
        harness.kill()
        if (directory / "state.json").exists():  # whatever this test fails on, it leaves nothing behind either
            for proc in json.loads((directory / "state.json").read_text())["procs"].values():
                planes._signal_group(proc["pgid"], signal.SIGKILL)
    assert left == [], f"still running or bound after the harness was killed: {left}"
