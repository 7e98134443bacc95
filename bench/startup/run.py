"""Start-up cost: ``import rainmaker``, ``rainmaker --help`` and pytest with the plugin.

Run by hand (it is not a test)::

    .venv/bin/python bench/startup/run.py                  # against BASELINE_REV
    .venv/bin/python bench/startup/run.py --against HEAD~3 --quick

Each figure is the median wall time of a fresh interpreter doing one thing, measured in
interleaved rounds so that both sides meet the same machine load:

* ``import rainmaker`` and ``rainmaker --help`` against the same commands on an earlier
  commit (checked out with ``git worktree`` into a temporary folder and put first on
  ``PYTHONPATH``), so a change to the public surface cannot make start-up slower unseen;
* ``pytest --collect-only`` of one trivial test with rainmaker's plugin loaded against the
  same run with ``-p no:rainmaker``: what the plugin costs every pytest run in an
  environment where rainmaker is installed (the goal is under 50 ms);
* the kernel benchmark (``bench/kernel/run.py --quick``) of each tree, run alternately:
  resolve + start + stop of 1,000 patterns per graph shape, and ``Services.require``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from bench.results import Result, write_results

ROOT = Path(__file__).resolve().parents[2]
# The last commit before the public-API and pattern-kit work (issues 15 and 16).
BASELINE_REV = "a18f702"


def timed(command: Sequence[str], env: dict[str, str], cwd: Path) -> float:
    began = time.perf_counter()
    subprocess.run(command, env=env, cwd=cwd, check=True, capture_output=True)
    return time.perf_counter() - began


def interleaved(
    pairs: dict[str, tuple[Callable[[], float], Callable[[], float]]], rounds: int
) -> dict[str, tuple[float, float]]:
    """Median seconds of (baseline, ours) per figure, alternating the two each round."""
    samples: dict[str, tuple[list[float], list[float]]] = {k: ([], []) for k in pairs}
    for round_ in range(rounds + 1):
        for name, (baseline, ours) in pairs.items():
            first, second = (baseline, ours) if round_ % 2 else (ours, baseline)
            a, b = first(), second()
            if round_ == 0:
                continue  # warm the page cache and .pyc files
            base, mine = (a, b) if round_ % 2 else (b, a)
            samples[name][0].append(base)
            samples[name][1].append(mine)
    return {k: (statistics.median(b), statistics.median(o)) for k, (b, o) in samples.items()}


def worktree_of(revision: str) -> Path:
    """A checkout of ``revision`` beside the repository (made once, reused by later runs)."""
    folder = Path(tempfile.gettempdir()) / f"rm-bench-baseline-{revision}"
    if not (folder / "src").exists():
        subprocess.run(
            ["git", "worktree", "add", "--detach", str(folder), revision],
            cwd=ROOT, check=True, capture_output=True,
        )
    return folder


def kernel_figures(baseline_tree: Path, rounds: int) -> list[tuple[str, tuple[float, float]]]:
    """Median (baseline, ours) of each kernel-bench figure over alternating runs."""
    samples: dict[str, tuple[list[float], list[float]]] = {}
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    for round_ in range(rounds):
        order = [(baseline_tree, 0), (ROOT, 1)]
        for tree, side in order if round_ % 2 == 0 else reversed(order):
            with tempfile.NamedTemporaryFile(suffix=".json") as out:
                done = subprocess.run(
                    [sys.executable, str(tree / "bench" / "kernel" / "run.py"), "--quick",
                     "--json", out.name],
                    env={**env, "PYTHONPATH": str(tree / "src")}, cwd=tree,
                    capture_output=True, text=True,
                )
                if done.returncode not in (0, 1):  # 1: a phase grew faster than linear
                    raise RuntimeError(f"bench/kernel failed in {tree}:\n{done.stderr[-2000:]}")
                for row in json.loads(Path(out.name).read_text()):
                    samples.setdefault(row["figure"], ([], []))[side].append(row["ours"])
    return [
        (figure.split(" vs ")[0], (statistics.median(old), statistics.median(new)))
        for figure, (old, new) in samples.items()
        if old and new
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--against", default=BASELINE_REV, help="baseline git revision")
    parser.add_argument("--quick", action="store_true", help="fewer rounds")
    parser.add_argument("--json", help="write result rows here")
    options = parser.parse_args()
    rounds = 7 if options.quick else 25
    python = sys.executable
    base_env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    with tempfile.TemporaryDirectory(prefix="rm-bench-startup-") as work:
        worktree = Path(work) / "baseline"
        subprocess.run(
            ["git", "worktree", "add", "--detach", str(worktree), options.against],
            cwd=ROOT, check=True, capture_output=True,
        )
        try:
            tests = Path(work) / "tests"
            tests.mkdir()
            (tests / "test_one.py").write_text("def test_one():\n    pass\n")
            old = {**base_env, "PYTHONPATH": str(worktree / "src")}
            new = {**base_env, "PYTHONPATH": str(ROOT / "src")}
            here = Path(work)
            importing = [python, "-c", "import rainmaker"]
            helping = [python, "-m", "rainmaker", "--help"]
            collecting = [python, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider"]
            figures = interleaved(
                {
                    "import rainmaker": (
                        lambda: timed(importing, old, here), lambda: timed(importing, new, here)
                    ),
                    "rainmaker --help": (
                        lambda: timed(helping, old, here), lambda: timed(helping, new, here)
                    ),
                    "pytest start with the plugin": (
                        lambda: timed([*collecting, "-p", "no:rainmaker"], new, tests),
                        lambda: timed(collecting, new, tests),
                    ),
                },
                rounds,
            )
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(worktree)], cwd=ROOT,
                           capture_output=True)
    results = []
    for figure, (baseline, ours) in kernel_figures(worktree_of(options.against), rounds=2):
        results.append(
            Result(
                topic="startup",
                figure=f"kernel bench: {figure}",
                unit="ms" if "patterns" in figure else "ns/op",
                ours=round(ours, 2),
                baseline=round(baseline, 2),
                higher_is_better=False,
                goal="<= 1.05x",
                note=f"baseline: {options.against}",
            )
        )
        print(f"kernel: {figure:60} baseline {baseline:9.2f}   ours {ours:9.2f}   "
              f"ratio {ours / baseline:5.2f}x")
    for name, (baseline, ours) in figures.items():
        plugin = name.startswith("pytest")
        results.append(
            Result(
                topic="startup",
                figure=f"{name} (ms)",
                unit="ms",
                ours=round(ours * 1000, 1),
                baseline=round(baseline * 1000, 1),
                higher_is_better=False,
                goal="< +50 ms" if plugin else "<= 1.05x",
                note="baseline: -p no:rainmaker" if plugin else f"baseline: {options.against}",
            )
        )
        print(f"{name:32} baseline {baseline * 1000:7.1f} ms   ours {ours * 1000:7.1f} ms   "
              f"ratio {ours / baseline:5.2f}x   diff {(ours - baseline) * 1000:+6.1f} ms")
    write_results(options.json, results)


if __name__ == "__main__":
    main()
