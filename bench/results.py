"""Machine-readable benchmark results: what every ``bench/<topic>/run.py --json PATH`` writes.

A result is one *figure* measured on our side and on its baseline in the same run::

    {"topic": "http", "figure": "GET /items/{id} req/s (defaults)", "unit": "req/s",
     "baseline": 6100.0, "ours": 5900.0, "higher_is_better": true, "goal": ">= 0.97x"}

``ratio`` is ours / baseline; ``goal`` says what ratio (or, without a baseline, what value)
the issue asked for. ``bench/__main__.py`` gathers the files into one table.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass(frozen=True)
class Result:
    """One figure beside its baseline."""

    topic: str
    figure: str
    unit: str
    ours: float
    baseline: float | None = None
    higher_is_better: bool = True
    goal: str = ""
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.baseline is None or self.baseline == 0:
            return None
        return self.ours / self.baseline


def write_results(path: str | os.PathLike[str] | None, results: list[Result]) -> None:
    """Write ``results`` as a JSON list to ``path`` (nothing when ``path`` is None)."""
    if path is None:
        return
    Path(path).write_text(json.dumps([asdict(r) for r in results], indent=1) + "\n")


def read_results(path: str | os.PathLike[str]) -> list[Result]:
    """The results a bench wrote (empty when it wrote none)."""
    file = Path(path)
    if not file.exists() or not file.read_text().strip():
        return []
    return [Result(**item) for item in json.loads(file.read_text())]


def machine() -> str:
    """One line describing this machine: CPU, cores, memory, OS, Python."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                memory = f", {int(line.split()[1]) / 1024 / 1024:.1f} GiB RAM"
                break
    except OSError:
        pass
    load = ""
    if hasattr(os, "getloadavg"):
        load = f", load average {os.getloadavg()[0]:.1f}"
    kernel = platform.release()
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
        ).stdout.strip()
    except OSError:
        commit = ""
    return (
        f"{cpu}, {os.cpu_count()} CPUs{memory}{load}; {platform.system()} {kernel}; "
        f"Python {platform.python_version()}" + (f"; commit {commit}" if commit else "")
    )
