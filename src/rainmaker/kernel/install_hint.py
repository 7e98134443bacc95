"""Which ``pip install`` brings a library a pattern imports but the environment lacks.

Patterns import their heavy libraries only when they are built, so a missing one shows up
late, as a ``ModuleNotFoundError``. The distribution that declares the pattern already says,
in its metadata, which of its extras requires that library: read it there, so every
package — built-in or third-party — gets ``pip install "dist[extra]"`` without declaring
anything more.
"""

from __future__ import annotations

import re
from importlib.metadata import PackageNotFoundError, requires

# Import names that differ from the name of the distribution that installs them.
DISTRIBUTION_OF_IMPORT = {
    "jwt": "pyjwt",
    "argon2": "argon2-cffi",
    "multipart": "python-multipart",
    "python_multipart": "python-multipart",
    "yaml": "pyyaml",
    "opentelemetry": "opentelemetry-api",
    "pytest_asyncio": "pytest-asyncio",
    "prometheus_client": "prometheus-client",
    "taskiq_redis": "taskiq-redis",
    "taskiq_aio_pika": "taskiq-aio-pika",
}


def install_hint(distribution: str | None, module: str | None) -> str | None:
    """``pip install "distribution[extra]"`` for the extra that requires ``module``.

    ``None`` when the distribution is unknown or none of its extras names the library
    (then the library is the distribution's own business: install it by name).
    """
    if not distribution or not module:
        return None
    # Only a failure asks: packaging's requirement parser (and its platform tags, which
    # canonicalize_name's module imports) stays out of every start-up.
    from packaging.requirements import InvalidRequirement, Requirement
    from packaging.utils import canonicalize_name

    top_level = module.partition(".")[0]
    wanted = canonicalize_name(DISTRIBUTION_OF_IMPORT.get(top_level, top_level))
    try:
        declared = requires(distribution) or []
    except PackageNotFoundError:
        return None
    for line in declared:
        try:
            requirement = Requirement(line)
        except InvalidRequirement:
            continue
        if canonicalize_name(requirement.name) != wanted or requirement.marker is None:
            continue
        extra = _extra_of(str(requirement.marker))
        if extra:
            return f'pip install "{distribution}[{extra}]"'
    return None


def _extra_of(marker: str) -> str | None:
    # Metadata writes extras as: extra == "http" (possibly beside other markers).
    found = _EXTRA_MARKER.search(marker)
    return found.group(1) if found else None


_EXTRA_MARKER = re.compile(r"""extra\s*==\s*["']([^"']+)["']""")
