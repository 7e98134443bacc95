"""Whether an app's secrets are fit to serve anyone but their developer.

A secret is *weak* when its value is published — it equals a value shipped in the
repository: a literal or a ``${VAR:-default}`` default in the composition file, a line of
the ``.env.example`` next to it, the settings model's own default or examples, or an
installed pattern's examples — or when its estimated entropy is below its minimum
(``Field(json_schema_extra={"min_entropy_bits": 128})`` on the field, else
:data:`DEFAULT_MIN_ENTROPY_BITS`). Which fields are secrets is decided by
:func:`rainmaker.kernel.secrets.secret_fields` (``SecretStr``, ``{"secret": True}`` or a
secret's name), so every pattern is covered without a list of names here.

Anyone who can read the repository can sign a token or a webhook with a published secret,
so weak secrets are a loud warning in development and refused (exit 2, before anything
binds or starts) when the app runs a non-development profile or binds a non-loopback
address: :func:`guard`.
"""

from __future__ import annotations

import ipaddress
import math
import sys
import tomllib
import typing
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO
from urllib.parse import urlsplit

from pydantic import BaseModel, SecretBytes, SecretStr
from pydantic.fields import FieldInfo

from rainmaker.kernel.composition import DEFAULT_PROFILE
from rainmaker.kernel.errors import CompositionError, Problem
from rainmaker.kernel.secrets import MASK, secret_fields

if TYPE_CHECKING:
    from rainmaker.kernel.application import Application

DEFAULT_MIN_ENTROPY_BITS = 40
"""The floor for a secret whose field declares none: above a word or a short password
(``changeme`` is ~22 bits by this estimate, ``password123`` ~36), below any generated key
or token. A secret the app signs with should declare more on its field."""

DEVELOPMENT = DEFAULT_PROFILE
ENV_EXAMPLE = ".env.example"
# Short published strings ("", "x", "none") are everywhere; comparing them would only
# report values the entropy floor already reports.
_MIN_PUBLISHED_LENGTH = 8


@dataclass(frozen=True)
class WeakSecret:
    """One secret setting unfit for a deployed app, and why (never its value)."""

    instance: str
    key: str
    reason: str

    def problem(self) -> Problem:
        """The problem ``check`` and ``run`` report for it."""
        return Problem(
            f"weak secret: {self.reason}",
            instance=self.instance,
            key=self.key,
            value=MASK,
            fix="generate one (python -c 'import secrets; print(secrets.token_urlsafe(48))') "
            'and pass it through the environment, e.g. secret = "${MY_SECRET}" without a '
            "default",
        )


def estimated_entropy_bits(value: str) -> float:
    """Length times the value's own Shannon entropy per character.

    An estimate from the value alone: a generator's output scores near its real entropy,
    short, repetitive and word-like values score low. It cannot see structure spelled
    with distinct characters (``abcdefghij...``), which the published check and a longer
    generated value are for.
    """
    if not value:
        return 0.0
    counts = Counter(value)
    total = len(value)
    per_char = -sum(n / total * math.log2(n / total) for n in counts.values())
    return per_char * total


def weak_secrets(application: Application) -> list[WeakSecret]:
    """Every weak secret in ``application``'s settings, in instance order."""
    published = published_values(application)
    found: list[WeakSecret] = []
    for instance in application.instances.values():
        for key, value, minimum in _secrets(instance.settings, prefix=""):
            if value in published:
                found.append(
                    WeakSecret(instance.name, key, "its value is published in the repository")
                )
            elif (bits := estimated_entropy_bits(value)) < minimum:
                found.append(
                    WeakSecret(
                        instance.name,
                        key,
                        f"about {max(bits, 0):.0f} bits of entropy, below its minimum of "
                        f"{minimum:g}",
                    )
                )
    return found


def published_values(application: Application) -> set[str]:
    """Strings shipped where anyone with the repository or the package can read them."""
    found: set[str] = set()
    composition = application.composition
    if composition.path is not None and composition.path.exists():
        with composition.path.open("rb") as file:
            found.update(_strings(tomllib.load(file)))
    found.update(d for d in composition.env_vars.values() if d)
    found.update(_env_example_values(composition.root / ENV_EXAMPLE))
    for instance in application.instances.values():
        found.update(_model_published(type(instance.settings)))
    for pattern in _catalog_patterns(application):
        for example in pattern.examples:
            found.update(_strings(example))
    return {value for value in found if len(value) >= _MIN_PUBLISHED_LENGTH}


def refuses(profile: str, host: str | None) -> bool:
    """Whether weak secrets stop the app: a non-development profile, or a bind address
    another machine can reach (``None``: the process binds nothing, a worker)."""
    return profile != DEVELOPMENT or (host is not None and not is_loopback_host(host))


def is_loopback_host(host: str) -> bool:
    """Whether binding ``host`` serves this machine only (``localhost``, 127/8, ::1)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a name: it may resolve anywhere


def guard(application: Application, *, host: str | None) -> list[WeakSecret]:
    """Refuse ``application`` when it has weak secrets and :func:`refuses` says so
    (:class:`CompositionError`, exit 2); otherwise return them for a loud warning."""
    weak = weak_secrets(application)
    if weak and refuses(application.composition.profile, host):
        where = (
            f"the {application.composition.profile!r} profile"
            if application.composition.profile != DEVELOPMENT
            else f"an app bound to {host}"
        )
        raise CompositionError([w.problem() for w in weak], where=where)
    return weak


def enforce(application: Application, *, host: str | None, stream: TextIO | None = None) -> None:
    """:func:`guard`, then each warning on ``stream`` (stderr): what ``run`` and ``worker``
    do before they bind or start anything."""
    out = stream if stream is not None else sys.stderr
    for line in warning_lines(guard(application, host=host)):
        out.write(f"WARNING {line}\n")
    out.flush()


def warning_lines(weak: Iterable[WeakSecret]) -> list[str]:
    """The development warning for each weak secret, one line each."""
    return [
        f"{w.instance}.{w.key}: weak secret ({w.reason}): anyone with the repository can "
        "forge what it signs; it is refused outside development and on a non-loopback address"
        for w in weak
    ]


# -- reading secrets and published strings ---------------------------------------------------


def _secrets(settings: BaseModel, prefix: str) -> Iterator[tuple[str, str, float]]:
    """``(dotted key, plain value, minimum bits)`` of each non-empty secret, nested too."""
    model = type(settings)
    secret = secret_fields(model)
    for name, info in model.model_fields.items():
        value = getattr(settings, name, None)
        key = f"{prefix}{name}"
        if isinstance(value, BaseModel):
            yield from _secrets(value, prefix=f"{key}.")
        elif isinstance(value, list | tuple | dict):
            # Signing keys in a list, OAuth clients in a table, encryption keys: each judged.
            items = value.items() if isinstance(value, dict) else enumerate(value)
            for index, item in items:
                if isinstance(item, BaseModel):
                    yield from _secrets(item, prefix=f"{key}.{index}.")
                elif name in secret and (plain := _plain(item)):
                    yield f"{key}.{index}", plain, _minimum(info)
        elif name in secret and (plain := _plain(value)):
            yield key, plain, _minimum(info)


def _minimum(info: FieldInfo) -> float:
    """The field's ``min_entropy_bits``, else :data:`DEFAULT_MIN_ENTROPY_BITS`."""
    extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
    minimum = extra.get("min_entropy_bits", DEFAULT_MIN_ENTROPY_BITS)
    return float(minimum) if isinstance(minimum, int | float) else DEFAULT_MIN_ENTROPY_BITS


def _plain(value: Any) -> str | None:
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    elif isinstance(value, SecretBytes):
        value = value.get_secret_value().decode(errors="replace")
    if not isinstance(value, str):
        return None
    if "://" in value:
        # A URL held as a secret (a Redis URL) is secret for its password only: its host
        # is published everywhere and says nothing about the password's strength.
        try:
            return urlsplit(value).password
        except ValueError:
            return None
    return value


def _model_published(model: type[BaseModel]) -> Iterator[str]:
    """Defaults and examples the settings model ships, nested models included."""
    for info in model.model_fields.values():
        yield from _strings(_plain(info.default))
        yield from _strings(info.examples or [])
        for nested in _models_in(info.annotation):
            yield from _model_published(nested)


def _models_in(annotation: Any) -> Iterator[type[BaseModel]]:
    """The settings models an annotation holds: itself, or inside ``list[...]``,
    ``dict[str, ...]`` and ``... | None``."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
        return
    for argument in typing.get_args(annotation):
        yield from _models_in(argument)


def _env_example_values(path: Path) -> Iterator[str]:
    if not path.is_file():
        return
    for line in path.read_text(errors="replace").splitlines():
        name, sep, value = line.partition("=")
        if sep and not name.lstrip().startswith("#"):
            yield value.strip().strip("'\"")


def _strings(value: Any) -> Iterator[str]:
    """Every string in ``value`` (nested dicts and lists), and each ``${VAR:-default}``'s
    default inside them."""
    if isinstance(value, str):
        yield value
        rest = value
        while (start := rest.find(":-")) != -1:
            end = rest.find("}", start)
            if end == -1:
                break
            yield rest[start + 2 : end]
            rest = rest[end + 1 :]
    elif isinstance(value, SecretStr | SecretBytes):
        yield from _strings(_plain(value))
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)


def _catalog_patterns(application: Application) -> Iterable[Any]:
    """The patterns the app uses: their examples ship with the package, and a value copied
    from one is most likely in the settings of that same pattern."""
    return [instance.pattern for instance in application.instances.values()]
