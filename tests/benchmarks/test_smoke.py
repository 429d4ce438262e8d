"""The shipped benchmark works: a smoke run of every case and scenario (its numbers mean nothing;
speed is never asserted in tests)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.benchmarks.run import CASES, ROOT


@pytest.mark.slow
def test_the_benchmark_runs_every_case_and_scenario(tmp_path: Path) -> None:
    if shutil.which("wrk") is None:
        pytest.skip("wrk is not installed: apt-get install wrk (.ci/run installs it)")
    # given / when: the benchmark in smoke mode
    done = subprocess.run(
        [sys.executable, "-m", "tests.benchmarks.run", "--smoke", "--out", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    # then: every case answered correctly under load and the scenarios kept their guarantees
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    document = json.loads((tmp_path / "bench.json").read_text())
    assert set(document["cases"]) == {case.name for case in CASES}
    assert all(case["rps"] > 0 for case in document["cases"].values())
    assert document["ingest"]["problems"] == []
    assert document["ingest"]["non_200"] == 0
    assert document["checkout"]["health_probes"] > 0
    assert (tmp_path / "bench.md").read_text().count("| PASS |") + (
        tmp_path / "bench.md"
    ).read_text().count("| FAIL |") >= 10
