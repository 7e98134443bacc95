"""Run every benchmark beside its baseline, print one table and write ``bench/RESULTS.md``.

    .venv/bin/python -m bench                 # every bench in --quick mode (a few minutes)
    .venv/bin/python -m bench --full          # their full runs (much longer)
    .venv/bin/python -m bench kernel http     # some of them
    .venv/bin/python -m bench --full-for http demo   # those full, the rest quick

Each ``bench/<topic>/run.py`` (through ``run.sh`` when it has one, which installs wrk) runs
with ``--json PATH``; the rows it writes (see :mod:`bench.results`) are gathered into a table
of figure, baseline, ours, ratio and goal. A bench that fails or outlives its time bound is
reported as such with whatever rows it wrote before. Each bench's README explains its
method and holds its reviewed figures.
"""

from __future__ import annotations

import argparse
import datetime
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.results import Result, machine, read_results

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
ORDER = (
    "kernel",
    "http",
    "database",
    "cache",
    "storage",
    "auth",
    "orgs",
    "jobs",
    "app",
    "demo",
    "zero_to_running",
)
TIMEOUT = {"quick": 420.0, "full": 3600.0}


def topics() -> list[str]:
    found = {p.name for p in BENCH.iterdir() if (p / "run.py").exists()}
    return [t for t in ORDER if t in found] + sorted(found - set(ORDER))


def command(topic: str, json_path: Path, quick: bool) -> list[str]:
    folder = BENCH / topic
    options = ["--json", str(json_path)] + (["--quick"] if quick else [])
    if (folder / "run.sh").exists():
        return ["bash", str(folder / "run.sh"), *options]
    return [sys.executable, str(folder / "run.py"), *options]


def run(topic: str, quick: bool, folder: Path) -> tuple[list[Result], str]:
    """The rows ``topic`` wrote and its status (``ok``, ``exit N``, ``timed out``)."""
    json_path = folder / f"{topic}.json"
    bound = TIMEOUT["quick" if quick else "full"]
    began = time.perf_counter()
    print(f"\n=== bench/{topic} ===", flush=True)
    try:
        process = subprocess.run(command(topic, json_path, quick), cwd=ROOT, timeout=bound)
        status = "ok" if process.returncode == 0 else f"exit {process.returncode}"
    except subprocess.TimeoutExpired:
        status = f"timed out after {bound:g} s"
    print(f"--- bench/{topic}: {status} ({time.perf_counter() - began:.0f} s)", flush=True)
    return read_results(json_path), status


def number(value: float | None) -> str:
    if value is None:
        return "—"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.2f}" if abs(value) < 10 else f"{value:.1f}"


def ratio_text(row: Result) -> str:
    ratio = row.ratio
    if ratio is None or (row.baseline is not None and round(row.baseline, 2) == 0):
        return "—"  # no baseline, or one too small to divide by (0.00 MB growth)
    return f"{ratio:.2f}x"


def mode_text(full: set[str], chosen: list[str]) -> tuple[str, str]:
    """The command's options and a phrase saying which benches ran full."""
    if not full:
        return "", "quick mode: short rounds, so single figures are noisy"
    if full >= set(chosen):
        return " --full", "full runs"
    names = ", ".join(t for t in chosen if t in full)
    return f" --full-for {' '.join(t for t in chosen if t in full)}", (
        f"full runs of {names}; the others in quick mode, whose single figures are noisy"
    )


def markdown(
    rows: list[Result], statuses: dict[str, str], mode: tuple[str, str], seconds: float
) -> str:
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    options, phrase = mode
    lines = [
        "# Benchmark results",
        "",
        f"Written by `python -m bench{options}` on {now} in {seconds:.0f} s ({phrase}).",
        "",
        f"Machine: {machine()}.",
        "",
        "Ratio is ours / baseline, measured in the same run; for figures where lower is better",
        "(latency, time, memory, CPU) a ratio below 1 favours ours. Each bench's README",
        "explains its method and holds reviewed figures from longer runs.",
        "",
        "| bench | figure | unit | baseline | ours | ratio | better | goal | note |",
        "| --- | --- | --- | ---: | ---: | ---: | --- | --- | --- |",
    ]
    for row in rows:
        better = "higher" if row.higher_is_better else "lower"
        lines.append(
            f"| {row.topic} | {row.figure} | {row.unit} | {number(row.baseline)} | "
            f"{number(row.ours)} | {ratio_text(row)} | {better} | {row.goal} | {row.note} |"
        )
    lines += ["", "| bench | status |", "| --- | --- |"]
    lines += [f"| {topic} | {status} |" for topic, status in statuses.items()]
    return "\n".join(lines) + "\n"


def print_table(rows: list[Result], statuses: dict[str, str]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="Benchmarks beside their baselines (ratio = ours / baseline)")
    for name, justify in (
        ("bench", "left"),
        ("figure", "left"),
        ("unit", "left"),
        ("baseline", "right"),
        ("ours", "right"),
        ("ratio", "right"),
        ("goal", "left"),
    ):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for row in rows:
        arrow = "↑" if row.higher_is_better else "↓"
        table.add_row(
            row.topic,
            row.figure,
            f"{row.unit} {arrow}",
            number(row.baseline),
            number(row.ours),
            ratio_text(row),
            row.goal,
        )
    console = Console(width=160)
    console.print(table)
    failed = {t: s for t, s in statuses.items() if s != "ok"}
    if failed:
        console.print("not ok: " + ", ".join(f"{t} ({s})" for t, s in failed.items()))


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("topics", nargs="*", help=f"some of: {', '.join(topics())}")
    parser.add_argument("--full", action="store_true", help="full runs instead of --quick")
    parser.add_argument(
        "--full-for", nargs="+", default=[], metavar="TOPIC", help="full runs of these only"
    )
    parser.add_argument("--output", default=str(BENCH / "RESULTS.md"), help="Markdown file")
    args = parser.parse_args(argv)
    chosen = args.topics or topics()
    unknown = sorted((set(chosen) | set(args.full_for)) - set(topics()))
    if unknown:
        parser.error(
            f"unknown benchmark(s): {', '.join(unknown)}; choose from {', '.join(topics())}"
        )
    full = set(chosen) if args.full else set(args.full_for)
    began = time.perf_counter()
    rows: list[Result] = []
    statuses: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="rm-bench-") as folder:
        for topic in chosen:
            found, statuses[topic] = run(topic, topic not in full, Path(folder))
            rows += found
    seconds = time.perf_counter() - began
    print()
    print_table(rows, statuses)
    Path(args.output).write_text(markdown(rows, statuses, mode_text(full, chosen), seconds))
    print(f"written to {args.output} ({seconds:.0f} s)")
    return 0 if all(s == "ok" for s in statuses.values()) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
