"""benchmarks/run.py: ``--only`` replaces the sections of the scripts it runs and keeps the rest."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

# Loaded from its file: benchmarks/ is a directory of scripts, not a package.
_spec = importlib.util.spec_from_file_location(
    "bench_run", Path(__file__).resolve().parents[1] / "benchmarks" / "run.py"
)
assert _spec is not None
assert _spec.loader is not None
run = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(run)

SCRIPT = 'print("## {title}\\n\\n{line}")\n'


def bench(here: Path, name: str, title: str, line: str) -> None:
    (here / name).write_text(SCRIPT.format(title=title, line=line), encoding="utf-8")


def main(monkeypatch: pytest.MonkeyPatch, out: Path, *only: str) -> str:
    argv = ["run.py", "--out", str(out), *(["--only", *only] if only else [])]
    monkeypatch.setattr(sys, "argv", argv)
    run.main()
    return out.read_text(encoding="utf-8")


def test_only_keeps_the_sections_of_the_scripts_it_did_not_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    here = tmp_path / "benchmarks"
    here.mkdir()
    monkeypatch.setattr(run, "HERE", here)
    monkeypatch.setattr(run, "EXTRA", ())
    bench(here, "a_bench.py", "A", "a first")
    bench(here, "b_bench.py", "B", "b first")
    out = tmp_path / "benchmarks.md"
    out.write_text(f"# notes\n\nkept prose\n\n{run.BEGIN}\nold\n{run.END}\ntail\n", encoding="utf-8")

    text = main(monkeypatch, out)
    assert "a first" in text
    assert "b first" in text
    assert "\nold\n" not in text

    bench(here, "a_bench.py", "A", "a second")
    bench(here, "b_bench.py", "B", "b second")
    text = main(monkeypatch, out, "a_bench")
    assert "a second" in text
    assert "a first" not in text
    assert "b first" in text
    assert "b second" not in text
    assert text.index("## A") < text.index("## B")
    assert "kept from earlier runs (their own dates and commits): b_bench.py" in text
    assert text.startswith("# notes\n\nkept prose\n")
    assert text.endswith(f"{run.END}\ntail\n")
    assert text.count("## Machine") == 1


def test_sections_written_before_the_script_markers_are_kept() -> None:
    generated = (
        "\n## Machine\n\n- date: x\n\n## Pipeline (pipeline_bench.py)\n\n| a | b |\n\n"
        "_pipeline_bench.py: 751 s; load average 17.1 before, 18.5 after._\n\n"
        "## Search\n\nrows\n\n_search_bench.py: 9 s._\n"
    )
    sections = run.script_sections(generated)
    assert sorted(sections) == ["pipeline_bench.py", "search_bench.py"]
    assert sections["pipeline_bench.py"].startswith("<!-- bench:script pipeline_bench.py -->\n## Pipeline")
    assert "## Search" not in sections["pipeline_bench.py"]
    assert sections["search_bench.py"].rstrip().endswith("_search_bench.py: 9 s._")
