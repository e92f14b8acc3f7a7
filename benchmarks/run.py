"""Runs the benchmarks and writes their results, with this machine's facts, into
docs/benchmarks.md (``make bench``).

    .venv/bin/python benchmarks/run.py [--only api_load fanout_bench] [--out docs/benchmarks.md]
        [--pipeline-videos 4]    # or: make bench BENCH_ARGS="--pipeline-videos 4"

Every ``benchmarks/*_bench.py`` runs, plus the scripts in ``EXTRA``; each prints its result
(a markdown section, ``## ...``, beside its baseline measured in the same run) on stdout.
Output that is not markdown is kept in a code block under the script's name. A script that
fails is reported with the end of its stderr, and the others still run. Only the part of the
output file between the ``bench:begin`` and ``bench:end`` markers is replaced: the notes
around it (such as before/after comparisons) are kept. Each section ends with the script's
time, the 1-minute load average before and after it (the machine may be shared), the date and
the commit. With ``--only``, the sections of the scripts that did not run are kept as they were
(each starts with a ``bench:script`` marker naming its script).

``--pipeline-videos`` shortens pipeline_bench's batch (20 videos by default: on a loaded
2-core machine that part alone takes tens of minutes).
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HERE = ROOT / "benchmarks"
# Benchmarks whose names do not end in _bench.py.
EXTRA = ("api_load.py",)
BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"
# Starts the section of one script: ``--only`` replaces the sections of the scripts it runs.
SCRIPT_MARK = re.compile(r"^<!-- bench:script (\S+) -->\n", re.MULTILINE)
# The last line of a section written before the script markers: ``_name.py: 12 s..._``.
LEGACY_FOOTER = re.compile(r"^_(\S+\.py): .*_\n", re.MULTILINE)


def scripts(only: list[str] | None) -> list[Path]:
    """The benchmark scripts to run, in name order."""
    found = sorted({*HERE.glob("*_bench.py"), *(HERE / name for name in EXTRA)})
    if only:
        wanted = {name.removesuffix(".py") for name in only}
        found = [path for path in found if path.stem in wanted]
    return found


def commit() -> str:
    """The short hash of the checked-out commit ('?' outside git)."""
    done = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    return done.stdout.strip() or "?"


def machine_facts() -> str:
    """CPU, memory, load, Python and the commit: what the numbers depend on."""
    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        names = [
            line.split(":", 1)[1].strip()
            for line in cpuinfo.read_text().splitlines()
            if line.startswith("model name")
        ]
        cpu = names[0] if names else cpu
    memory = "?"
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        total_kb = int(meminfo.read_text().split("MemTotal:", 1)[1].split()[0])
        memory = f"{total_kb / 1024 / 1024:.1f} GiB"
    load = " / ".join(f"{x:.2f}" for x in os.getloadavg())
    return "\n".join(
        [
            f"- date: {datetime.now(UTC).isoformat(timespec='seconds')}",
            f"- commit: {commit()}",
            f"- CPU: {cpu}, {os.cpu_count()} logical cores usable: {len(os.sched_getaffinity(0))}",
            f"- memory: {memory}",
            f"- load average (1/5/15 min) at start: {load}",
            f"- Python {platform.python_version()} on {platform.system()} {platform.release()}",
        ]
    )


def run_one(path: Path, timeout_s: float, args: list[str] | None = None) -> str:
    """The markdown section of one script (run with ``args``), after its ``bench:script`` marker."""
    return f"<!-- bench:script {path.name} -->\n{_section(path, timeout_s, args)}"


def _section(path: Path, timeout_s: float, args: list[str] | None) -> str:
    load_before = os.getloadavg()[0]
    started = time.monotonic()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    try:
        done = subprocess.run(
            [sys.executable, str(path), *(args or [])],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout_s,
        )
    except subprocess.TimeoutExpired:
        return f"## {path.name}\n\nDid not finish within {timeout_s:.0f} s.\n"
    took = time.monotonic() - started
    out = done.stdout.strip()
    if done.returncode != 0:
        tail = "\n".join(done.stderr.strip().splitlines()[-15:])
        return f"## {path.name}\n\nFailed (exit {done.returncode}):\n\n```\n{tail}\n```\n"
    if not out.startswith("## "):
        out = f"## {path.name}\n\n```\n{out}\n```"
    load_after = os.getloadavg()[0]
    loads = f"load average {load_before:.1f} before, {load_after:.1f} after"
    when = datetime.now(UTC).isoformat(timespec="minutes")
    return f"{out}\n\n_{path.name}: {took:.0f} s; {loads}; {when}, commit {commit()}._\n"


def script_sections(generated: str) -> dict[str, str]:
    """The sections of ``generated`` (the text between the markers) by script name."""
    marks = list(SCRIPT_MARK.finditer(generated))
    if marks:
        ends = [m.start() for m in marks[1:]] + [len(generated)]
        return {
            m.group(1): generated[m.start() : end].rstrip() + "\n" for m, end in zip(marks, ends, strict=True)
        }
    # Written before the markers: a section runs from the previous footer (or the first script
    # heading after the machine facts) to its own footer.
    sections: dict[str, str] = {}
    start = generated.find("\n## ", generated.find("## Machine") + 1) + 1
    for footer in LEGACY_FOOTER.finditer(generated):
        if start > 0:
            body = generated[start : footer.end()].strip()
            sections[footer.group(1)] = f"<!-- bench:script {footer.group(1)} -->\n{body}\n"
        start = footer.end()
    return sections


def kept_sections(out_path: Path, ran: set[str]) -> dict[str, str]:
    """The sections of ``out_path``'s generated part whose scripts are not in ``ran``."""
    if not out_path.exists():
        return {}
    text = out_path.read_text(encoding="utf-8")
    if BEGIN not in text or END not in text:
        return {}
    generated = text.split(BEGIN, 1)[1].split(END, 1)[0]
    return {name: body for name, body in script_sections(generated).items() if name not in ran}


def write(out_path: Path, body: str) -> None:
    """Replace the generated part of ``out_path`` (the whole file if it has no markers)."""
    generated = f"{BEGIN}\n{body.rstrip()}\n{END}"
    if out_path.exists():
        text = out_path.read_text(encoding="utf-8")
        if BEGIN in text and END in text:
            head, rest = text.split(BEGIN, 1)
            tail = rest.split(END, 1)[1]
            out_path.write_text(f"{head}{generated}{tail}", encoding="utf-8")
            return
    out_path.write_text(
        f"# Benchmarks\n\nWritten by `make bench` (benchmarks/run.py).\n\n{generated}\n", encoding="utf-8"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--only", nargs="*", help="script names to run (default: all)")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks.md")
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds per script")
    parser.add_argument(
        "--pipeline-videos", type=int, default=None, help="videos in pipeline_bench's batch (default 20)"
    )
    args = parser.parse_args()
    extra = {"pipeline_bench": ["--videos", str(args.pipeline_videos)]} if args.pipeline_videos else {}
    chosen = scripts(args.only)
    by_script = kept_sections(args.out, {path.name for path in chosen}) if args.only else {}
    facts = machine_facts()
    if by_script:
        facts += f"\n- kept from earlier runs (their own dates and commits): {', '.join(sorted(by_script))}"
    for path in chosen:
        sys.stderr.write(f"running {path.name} ...\n")
        by_script[path.name] = run_one(path, args.timeout, extra.get(path.stem))
    sections = [f"## Machine\n\n{facts}\n", *(by_script[name] for name in sorted(by_script))]
    write(args.out, "\n".join(sections))
    sys.stderr.write(f"wrote {args.out}\n")


if __name__ == "__main__":
    main()
