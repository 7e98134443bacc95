"""Run every benchmark beside its baseline, one after the other.

    .venv/bin/python bench/run.py              # all of them
    .venv/bin/python bench/run.py kernel http  # some of them

Each benchmark lives in ``bench/<topic>/`` with a ``run.py`` (or ``run.sh`` when it needs
set-up such as installing wrk) and a README holding its figures. Benchmarks print their
own tables; this runner only sequences them and reports which failed.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent


def topics() -> list[str]:
    return sorted(
        p.name for p in BENCH.iterdir() if p.is_dir() and any((p / f).exists() for f in RUNNERS)
    )


RUNNERS = ("run.sh", "run.py")


def command(topic: str) -> list[str]:
    folder = BENCH / topic
    if (folder / "run.sh").exists():
        return ["bash", str(folder / "run.sh")]
    return [sys.executable, str(folder / "run.py")]


def main(argv: list[str]) -> int:
    chosen = argv or topics()
    unknown = sorted(set(chosen) - set(topics()))
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; choose from {', '.join(topics())}")
        return 2
    failed = []
    for topic in chosen:
        print(f"\n=== bench/{topic} ===", flush=True)
        if subprocess.run(command(topic), cwd=ROOT).returncode != 0:
            failed.append(topic)
    print(f"\n{len(chosen) - len(failed)} benchmarks finished, {len(failed)} failed", end="")
    print(f": {', '.join(failed)}" if failed else "")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
