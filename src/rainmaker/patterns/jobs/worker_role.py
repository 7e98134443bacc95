"""The jobs patterns' contribution to the ``worker`` process role.

``rainmaker worker`` knows no jobs pattern: it runs every ``"worker"`` loop the composed
modules contribute through ``Module.process_roles()``. This is the jobs patterns' loop:
run jobs until asked to stop, then drain.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rainmaker import RoleOptions

if TYPE_CHECKING:
    from rainmaker.patterns.jobs.module import JobsModule


class JobsWorkerRole:
    """Runs the jobs module's worker (and scheduler) until :meth:`stop`."""

    def __init__(self, module: JobsModule[Any]) -> None:
        self.module = module
        self.stopped = False

    async def run(self, options: RoleOptions) -> None:
        if self.stopped:  # a signal arrived while the app was starting
            return
        await self.module.work(queues=options.queues, concurrency=options.concurrency)

    def stop(self) -> None:
        self.stopped = True
        self.module.stop_working()
