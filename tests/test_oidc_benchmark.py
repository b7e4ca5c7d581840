"""bench/oidc_throughput.py in a tiny run, so that it cannot rot: every measurement counts
successes and no failures. Only what the script produces is checked here, never how fast."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "bench" / "oidc_throughput.py"


def load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("oidc_throughput", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_the_oidc_benchmark_runs_every_measurement(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bench = load_script()
    # Cheap hashes for the tiny run; the bench and its server read the same settings.
    monkeypatch.setenv("OSTIARY_ARGON2_MEMORY_COST_KIB", "1024")
    monkeypatch.setenv("OSTIARY_ARGON2_TIME_COST", "1")
    missing = bench.peer_available()
    out = tmp_path / "report.json"
    args = ["--database-url", f"sqlite:///{tmp_path}/bench.db", "--data-dir", str(tmp_path)]
    args += ["--connections", "2", "--warmup", "0.1", "--duration", "1", "--rounds", "1"]
    args += ["--tokens", "5", "--no-wait", "--json", str(out)]
    assert bench.main(args + (["--no-peer"] if missing else [])) == 0

    report = json.loads(out.read_text())
    rows = {(row["server"], row["what"]): row for row in report["rows"]}
    expected = [("Ostiary", what) for what in (bench.CC, bench.INTROSPECT, bench.LOGIN)]
    if not missing:
        expected += [("oidc-provider", w) for w in (bench.CC, bench.CC_OPAQUE, bench.INTROSPECT)]
    assert sorted(rows) == sorted(expected)
    for key, row in rows.items():
        assert row["ok"] > 0 and row["failed"] == 0, (key, row)
    assert len(report["hash_rates"]) == 2 and report["hash_rates"][0]["per_second"] > 0
    assert set(report["goals"]) == {bench.CC, bench.INTROSPECT, bench.LOGIN}
    if missing:
        pytest.skip(f"Ostiary measured; oidc-provider not run: {missing}")
