"""Storage benchmark: put/get throughput and peak memory, each backend against a baseline.

* ``local``: ``storage-local`` (temp file + MD5 + metadata attribute + fsync + os.replace
  + folder fsync, chunks through worker threads) vs an equally durable plain put that does
  the same work the contract asks (the same chunks into a temp file with their MD5, fsync,
  rename, fsync the folder: :func:`durable_put`) and a plain chunked ``open().read()`` (get).
* ``s3``: ``storage-s3`` against SeaweedFS on loopback vs raw aioboto3: ``put_object`` of
  the same chunks joined (put under one part), ``upload_fileobj`` (multipart put of 100 MB)
  and ``get_object`` + chunked reads (get).

Objects of 1 MB and 100 MB are streamed from a file on disk and read back to nowhere.
Throughput comes from untraced runs (median of ``--rounds``); memory from one more run
under ``tracemalloc`` (peak Python allocations during the operation) and from RSS sampled
every 2 ms (peak growth over the RSS before the operation). A 100 MB object must never be
held in memory: its peaks must stay far below 100 MB.

    .venv/bin/python bench/storage/run.py [--backend local|s3|both] [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import statistics
import sys
import tempfile
import threading
import time
import tracemalloc
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

from rainmaker.capabilities.storage import ObjectStore, Storage
from rainmaker.testing.harness import build_app
from rainmaker.testing.s3_server import seaweedfs

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from bench.results import Result as Row
from bench.results import write_results

FIGURES: list[Row] = []

MB = 1_000_000
SIZES = {"1 MB": 1 * MB, "100 MB": 100 * MB}
CHUNK = 1024 * 1024
PART_SIZE = 8 * 1024 * 1024  # storage-s3's default part_size: multipart above it
PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def rss() -> int:
    """Resident set size of this process in bytes (Linux)."""
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * PAGE


class RssPeak:
    """Samples RSS in a thread while the block runs; ``growth`` is peak minus start."""

    def __enter__(self) -> RssPeak:
        self.start = rss()
        self.peak = self.start
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss())
            time.sleep(0.002)

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss())

    @property
    def growth(self) -> int:
        return self.peak - self.start


async def file_chunks(path: Path) -> AsyncIterator[bytes]:
    """A file as 1 MiB chunks, read in a worker thread (what an upload handler sees)."""
    handle = open(path, "rb")
    try:
        while chunk := await asyncio.to_thread(handle.read, CHUNK):
            yield chunk
    finally:
        handle.close()


async def drain(chunks: AsyncIterator[bytes]) -> int:
    total = 0
    async for chunk in chunks:
        total += len(chunk)
    return total


async def durable_put(chunks: AsyncIterator[bytes], target: Path) -> str:
    """The local put baseline: the same work as ``storage-local``, written the plain way.

    It takes the same stream of chunks, writes each to a temp file beside the target in a
    worker thread and adds it to an MD5 in the same thread, fsyncs the file, renames it
    over the target and fsyncs the folder so the rename survives a crash — what any store
    that promises durability must do. The MD5 is part of the work: the storage contract
    answers it as the etag of every single-part write, so no store honouring the contract
    can skip hashing every byte. It keeps no metadata (content type): ``storage-local``
    stores that too, and has to hide its cost.
    """
    temp = target.with_name(f"{target.name}.tmp-{os.getpid()}")
    handle = await asyncio.to_thread(open, temp, "wb")
    digest = hashlib.md5(usedforsecurity=False)

    def write(chunk: bytes) -> None:
        handle.write(chunk)
        digest.update(chunk)

    try:
        async for chunk in chunks:
            await asyncio.to_thread(write, chunk)

        def finish() -> None:
            handle.flush()
            os.fsync(handle.fileno())
            handle.close()
            os.replace(temp, target)
            folder = os.open(target.parent, os.O_RDONLY)
            try:
                os.fsync(folder)
            finally:
                os.close(folder)

        await asyncio.to_thread(finish)
    finally:
        handle.close()
    return digest.hexdigest()


Op = Callable[[], Awaitable[Any]]


# Objects this small move in milliseconds, where one slow fsync or server hiccup would
# swing a median of a few rounds: they get SMALL_ROUNDS times the rounds (~1 s more).
SMALL_SIZE = 10 * MB
SMALL_ROUNDS = 10


async def measure_pair(
    ours: Op, base: Op, size: int, rounds: int
) -> tuple[dict[str, float], dict[str, float]]:
    """Both sides measured in alternating rounds after one untimed run each.

    Alternating keeps a busy machine or a server still warming up (SeaweedFS grows its
    volumes on the first writes to a bucket) from favouring whichever side runs second.
    """
    if size < SMALL_SIZE:
        rounds *= SMALL_ROUNDS
    await ours()
    await base()
    times: dict[str, list[float]] = {"ours": [], "base": []}
    for _ in range(rounds):
        for side, op in (("ours", ours), ("base", base)):
            began = time.perf_counter()
            await op()
            times[side].append(time.perf_counter() - began)
    return (
        await peaks(ours, size, times["ours"]),
        await peaks(base, size, times["base"]),
    )


async def peaks(op: Op, size: int, times: list[float]) -> dict[str, float]:
    """Median throughput (MB/s) of the timed rounds, then tracemalloc and RSS peaks."""
    with RssPeak() as peak:
        await op()
    tracemalloc.start()
    tracemalloc.reset_peak()
    await op()
    _, traced = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {
        "mbps": size / MB / statistics.median(times),
        "traced_mb": traced / MB,
        "rss_mb": peak.growth / MB,
    }


# The throughput ratio issue 23 asks for, per (backend, size, operation).
GOALS = {
    ("local", "1 MB", "put"): 0.8,
    ("local", "100 MB", "put"): 0.9,
    ("local", "1 MB", "get"): 0.9,
    ("local", "100 MB", "get"): 0.9,
    ("s3", "1 MB", "put"): 0.9,
    ("s3", "1 MB", "get"): 0.9,
}


def report(
    backend: str, name: str, what: str, ours: dict[str, float], base: dict[str, float]
) -> None:
    goal = GOALS.get((backend, name, what))
    ratio = ours["mbps"] / base["mbps"]
    verdict = "" if goal is None else f" (goal >= {goal}x: {'met' if ratio >= goal else 'MISSED'})"
    print(
        f"{backend:5} {name:6} {what:3} | rainmaker {ours['mbps']:8.1f} MB/s "
        f"traced {ours['traced_mb']:6.2f} MB rss+ {ours['rss_mb']:6.1f} MB | baseline "
        f"{base['mbps']:8.1f} MB/s traced {base['traced_mb']:6.2f} MB rss+ {base['rss_mb']:6.1f} MB"
        f" | ratio {ratio:.2f}{verdict}"
    )
    FIGURES.append(
        Row(
            "storage",
            f"{backend} {name} {what} throughput",
            "MB/s",
            ours["mbps"],
            base["mbps"],
            goal="" if goal is None else f">= {goal}x",
        )
    )
    if name != "1 MB":
        FIGURES.append(
            Row(
                "storage",
                f"{backend} {name} {what} peak RSS growth",
                "MB",
                ours["rss_mb"],
                base["rss_mb"],
                False,
                note="streaming: stays far below the object's size",
            )
        )
    sys.stdout.flush()


async def bench_local(work: Path, sources: dict[str, Path], rounds: int) -> None:
    app = build_app(
        {"files": {"use": "storage-local", "root": str(work / "local"), "max_size": 10**12}},
        root=work,
    )
    async with app.running():
        storage: ObjectStore = app.services.require(Storage)
        for name, source in sources.items():
            size = source.stat().st_size
            key = f"bench/{name.replace(' ', '')}.bin"
            copy_target = work / "plain-copy.bin"

            async def put(key: str = key, source: Path = source) -> None:
                await storage.put(key, file_chunks(source))

            async def plain_put(source: Path = source, copy_target: Path = copy_target) -> None:
                await durable_put(file_chunks(source), copy_target)

            async def get(key: str = key, size: int = size) -> None:
                assert await drain(await storage.get(key, chunk_size=CHUNK)) == size

            async def plain_get(size: int = size, copy_target: Path = copy_target) -> None:
                assert await drain(file_chunks(copy_target)) == size

            report(
                "local",
                name,
                "put",
                *(await measure_pair(put, plain_put, size, rounds)),
            )
            report(
                "local",
                name,
                "get",
                *(await measure_pair(get, plain_get, size, rounds)),
            )


async def bench_s3(work: Path, sources: dict[str, Path], rounds: int) -> None:
    import aioboto3
    from botocore.config import Config

    with seaweedfs(data_dir=work / "seaweedfs") as server:
        settings = {
            "use": "storage-s3",
            "bucket": "bench",
            "endpoint_url": server.endpoint_url,
            "access_key": server.access_key,
            "secret_key": server.secret_key,
            "path_style": True,
            "create_bucket": True,
            "max_size": 10**12,
        }
        app = build_app({"files": settings}, root=work)
        async with app.running():
            storage: ObjectStore = app.services.require(Storage)
            session = aioboto3.Session()
            config = Config(
                s3={"addressing_style": "path"},
                request_checksum_calculation="when_required",
                response_checksum_validation="when_required",
            )
            async with session.client(
                "s3",
                endpoint_url=server.endpoint_url,
                region_name=server.region,
                aws_access_key_id=server.access_key,
                aws_secret_access_key=server.secret_key,
                config=config,
            ) as raw:
                for name, source in sources.items():
                    size = source.stat().st_size
                    key = f"bench/{name.replace(' ', '')}.bin"
                    raw_key = f"raw/{name.replace(' ', '')}.bin"

                    async def put(key: str = key, source: Path = source) -> None:
                        await storage.put(key, file_chunks(source))

                    async def raw_put(
                        source: Path = source, raw_key: str = raw_key, size: int = size
                    ) -> None:
                        if size < PART_SIZE:
                            # What a hand-written handler does with an upload under one
                            # part: gather the same stream of chunks, one PutObject.
                            body = b"".join([chunk async for chunk in file_chunks(source)])
                            await raw.put_object(Bucket="bench", Key=raw_key, Body=body)
                            return
                        with open(source, "rb") as handle:
                            await raw.upload_fileobj(handle, "bench", raw_key)

                    async def get(key: str = key, size: int = size) -> None:
                        assert await drain(await storage.get(key, chunk_size=CHUNK)) == size

                    async def raw_get(raw_key: str = raw_key, size: int = size) -> None:
                        answer = await raw.get_object(Bucket="bench", Key=raw_key)
                        body = answer["Body"]
                        total = 0
                        while chunk := await body.read(CHUNK):
                            total += len(chunk)
                        body.close()
                        assert total == size

                    report(
                        "s3",
                        name,
                        "put",
                        *(await measure_pair(put, raw_put, size, rounds)),
                    )
                    report(
                        "s3",
                        name,
                        "get",
                        *(await measure_pair(get, raw_get, size, rounds)),
                    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["local", "s3", "both"], default="both")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="2 rounds")
    parser.add_argument("--json", metavar="PATH", help="also write the figures as JSON rows")
    args = parser.parse_args()
    if args.quick:
        args.rounds = 2
    with tempfile.TemporaryDirectory(prefix="rm-bench-storage-") as folder:
        work = Path(folder)
        sources: dict[str, Path] = {}
        block = os.urandom(CHUNK)
        for name, size in SIZES.items():
            path = work / f"source-{size}.bin"
            with open(path, "wb") as handle:
                for start in range(0, size, CHUNK):
                    handle.write(block[: min(CHUNK, size - start)])
            sources[name] = path
        print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, rounds={args.rounds}")
        if args.backend in ("local", "both"):
            await bench_local(work, sources, args.rounds)
        if args.backend in ("s3", "both"):
            await bench_s3(work, sources, args.rounds)
    write_results(args.json, FIGURES)


if __name__ == "__main__":
    asyncio.run(main())
