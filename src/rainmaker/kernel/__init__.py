"""The kernel: pattern contract, registry, composition, resolution, lifecycle, health, errors.

Nothing here imports a pattern's dependencies; patterns plug in through
:mod:`rainmaker.kernel.pattern` and :mod:`rainmaker.kernel.module`.
"""
