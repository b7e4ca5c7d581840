"""bench/user_import.py in a tiny run, so that it cannot rot. Only what the script produces
is checked here, never how fast."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

SCRIPT = Path(__file__).resolve().parents[1] / "bench" / "user_import.py"


def load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("user_import_bench", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_the_import_benchmark_imports_every_row_and_writes_its_figures(tmp_path: Path) -> None:
    bench = load_script()
    docs = tmp_path / "benchmarks.md"
    docs.write_text("# Benchmarks\n\nother figures\n")
    assert (
        bench.main(["--rows", "120", "--contexts", "3", "--write-docs", "--docs", str(docs)]) == 0
    )
    text = docs.read_text()
    assert "other figures" in text
    assert "<!-- figures:user-import:begin -->" in text
    assert "| first | 120 | 120 | 0 |" in text
    assert "| again | 120 | 0 | 120 |" in text
    assert "load average" in text and "Peak memory" in text
