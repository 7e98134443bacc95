"""A stack dump of every thread and every asyncio task, as JSON.

What an operator asks of a process that hangs or crawls: where is each thread, and what
is each task waiting on. Threads come from :func:`sys._current_frames` (the one portable
way to see another thread's frame), tasks from :func:`asyncio.all_tasks` on the app's
loop. Frames are reported as file, line and function only — never local variables, which
may hold secrets.
"""

from __future__ import annotations

import asyncio
import sys
import threading
import traceback
from types import FrameType
from typing import Any

MAX_TASK_FRAMES = 50


def _frames(summary: traceback.StackSummary) -> list[dict[str, Any]]:
    return [
        {"file": frame.filename, "line": frame.lineno, "function": frame.name, "code": frame.line}
        for frame in summary
    ]


def thread_stacks() -> list[dict[str, Any]]:
    """Every live thread with its stack, innermost frame last."""
    frames: dict[int, FrameType] = sys._current_frames()
    threads = []
    for thread in threading.enumerate():
        frame = frames.get(thread.ident) if thread.ident is not None else None
        stack = traceback.extract_stack(frame) if frame is not None else traceback.StackSummary()
        threads.append(
            {
                "name": thread.name,
                "ident": thread.ident,
                "daemon": thread.daemon,
                "stack": _frames(stack),
            }
        )
    return threads


def task_stacks(loop: asyncio.AbstractEventLoop | None = None) -> list[dict[str, Any]]:
    """Every task not done on ``loop`` (the running one by default), where it waits."""
    tasks = []
    for task in asyncio.all_tasks(loop):
        coroutine = task.get_coro()
        stack = [
            traceback.FrameSummary(f.f_code.co_filename, f.f_lineno or 0, f.f_code.co_name)
            for f in _awaited_frames(coroutine)
        ]
        tasks.append(
            {
                "name": task.get_name(),
                "coroutine": getattr(coroutine, "__qualname__", repr(coroutine)),
                "stack": _frames(traceback.StackSummary.from_list(stack)),
            }
        )
    return sorted(tasks, key=lambda item: str(item["name"]))


def _awaited_frames(coroutine: object) -> list[FrameType]:
    """The chain of frames a suspended coroutine is waiting in, outermost first.

    ``Task.get_stack`` gives only the task's own coroutine frame; following ``cr_await``
    (and ``gi_yieldfrom`` for generator-based awaitables) reaches the innermost ``await``,
    which is the line an operator needs.
    """
    frames: list[FrameType] = []
    current: Any = coroutine
    while current is not None and len(frames) < MAX_TASK_FRAMES:
        frame = getattr(current, "cr_frame", None) or getattr(current, "gi_frame", None)
        if frame is None:
            break
        frames.append(frame)
        current = getattr(current, "cr_await", None) or getattr(current, "gi_yieldfrom", None)
    return frames
