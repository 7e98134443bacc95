"""Log levels changed at runtime, per logger, without a restart.

Two kinds of logger write an app's lines: stdlib :mod:`logging` loggers (uvicorn,
SQLAlchemy, httpx…), whose levels :mod:`logging` already lets anyone change, and the
app's own structlog events, which carry the instance that logged them. The latter are
given stdlib names here — ``rainmaker`` for the kernel, ``rainmaker.<instance>`` for each
pattern instance — so one mechanism serves both: ``PUT .../loggers/rainmaker.db`` sets
the stdlib level of that name, and :func:`filter_by_logger_level` (a structlog processor,
added only once a level was changed, so it costs nothing before) drops the events below
the effective level of their name.

structlog filters by one level before any processor runs; to let an instance log *below*
the app's ``log_level``, :func:`apply` lowers that filter to the lowest level any
``rainmaker`` name asks for, and the processor drops what the others do not want.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, MutableMapping
from typing import Any

import structlog

from rainmaker import add_log_processor

LEVELS = ("debug", "info", "warning", "error", "critical")
"""The levels a logger may be set to (``null`` resets it to inherit its parent's)."""

ROOT = "root"
KERNEL = "rainmaker"

_NUMERIC = {name: getattr(logging, name.upper()) for name in LEVELS}
_METHOD_LEVEL = {**_NUMERIC, "warn": logging.WARNING, "exception": logging.ERROR}


def level_name(number: int) -> str:
    """``"info"`` for ``logging.INFO``; a custom number as itself."""
    name = logging.getLevelName(number)
    return name.lower() if isinstance(name, str) and not name.startswith("Level ") else str(number)


def logger_names(instances: Iterable[str]) -> list[str]:
    """Every logger worth listing: root, the app's own names, and each stdlib logger."""
    own = [KERNEL, *(f"{KERNEL}.{name}" for name in instances)]
    stdlib = [
        name
        for name, logger in logging.root.manager.loggerDict.items()
        if isinstance(logger, logging.Logger)
    ]
    return [ROOT, *own, *sorted(set(stdlib) - set(own))]


def _logger(name: str) -> logging.Logger:
    return logging.getLogger() if name == ROOT else logging.getLogger(name)


def describe(name: str) -> dict[str, Any]:
    """``{"level": effective, "configured": set on this logger or null}``."""
    logger = _logger(name)
    return {
        "level": level_name(logger.getEffectiveLevel()),
        "configured": level_name(logger.level) if logger.level != logging.NOTSET else None,
    }


class LevelChanges:
    """The levels one app changed, so that stopping it puts them back."""

    def __init__(self) -> None:
        self._original: dict[str, int] = {}

    def set(self, name: str, level: str | None, instances: Iterable[str]) -> dict[str, Any]:
        """Set ``name`` to ``level`` (``None``: inherit; for the root, the app's level);
        ``level`` must be one of LEVELS."""
        # First: installing the filter re-applies the kernel's logging configuration,
        # which sets the root logger's level; a change made before would be undone.
        add_log_processor(filter_by_logger_level)
        logger = _logger(name)
        self._original.setdefault(name, logger.level)
        if level is not None:
            logger.setLevel(_NUMERIC[level])
        else:
            # The root has no parent to inherit from (NOTSET would let everything through):
            # null puts it back to the app's own level.
            logger.setLevel(self._original[name] if name == ROOT else logging.NOTSET)
        apply(instances)
        return describe(name)

    def changed(self) -> dict[str, str]:
        """``{logger: effective level}`` of every logger this app changed."""
        return {name: describe(name)["level"] for name in self._original}

    def restore(self, instances: Iterable[str]) -> None:
        if not self._original:
            return  # nothing changed: leave the logging configuration untouched
        for name, level in self._original.items():
            _logger(name).setLevel(level)
        self._original.clear()
        apply(instances)


def apply(instances: Iterable[str]) -> None:
    """Lower (or raise back) structlog's own filter to the lowest level a name asks for."""
    lowest = min(
        _logger(name).getEffectiveLevel()
        for name in (KERNEL, *(f"{KERNEL}.{i}" for i in instances))
    )
    # Only the wrapper class changes: processors, renderer and output stay the kernel's.
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(lowest))


def filter_by_logger_level(
    _logger_: Any, method: str, event: MutableMapping[str, Any]
) -> Mapping[str, Any]:
    """Drop an app event below the effective level of ``rainmaker[.<instance>]``."""
    instance = event.get("instance")
    name = f"{KERNEL}.{instance}" if isinstance(instance, str) else KERNEL
    if _METHOD_LEVEL.get(method, logging.INFO) < logging.getLogger(name).getEffectiveLevel():
        raise structlog.DropEvent
    return event
