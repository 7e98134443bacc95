"""Passwords: the policy a new one must meet and argon2id hashing off the event loop.

argon2 is deliberately slow (tens of milliseconds, tens of MiB). Hashing on the event loop
would stall every other request during a login flood, so :class:`PasswordHasher` runs
hashes in a small thread pool of its own (argon2-cffi releases the GIL while it works).
The pool is bounded: excess logins wait for a thread, they never multiply the CPU and
memory spent at once. Lengths are checked *before* hashing, so a megabyte "password"
costs nothing.
"""

from __future__ import annotations

import asyncio
import secrets
import unicodedata
from concurrent.futures import ThreadPoolExecutor
from importlib import resources
from pathlib import Path

import argon2
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from rainmaker.patterns.auth_jwt.errors import PasswordRejectedError
from rainmaker.patterns.auth_jwt.settings import HashingSettings, PasswordPolicy

COMMON_PASSWORDS = "common_passwords.txt"


def load_common_passwords(extra_file: Path | None = None) -> frozenset[str]:
    """The shipped common-password list plus ``extra_file`` (one per line, ``#`` comments)."""
    text = resources.files("rainmaker.patterns.auth_jwt").joinpath(COMMON_PASSWORDS).read_text()
    if extra_file is not None:
        text += "\n" + extra_file.read_text(encoding="utf-8")
    return frozenset(
        line.strip().casefold()
        for line in text.splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    )


class PasswordPolicyChecker:
    """Checks a candidate password against :class:`PasswordPolicy` (cheap, no hashing)."""

    def __init__(self, policy: PasswordPolicy, common: frozenset[str], *, pattern_id: str) -> None:
        self.policy = policy
        self.common = common if policy.reject_common else frozenset()
        self.pattern_id = pattern_id

    def check_length(self, password: str) -> None:
        """Refuse passwords over the upper bound (before anything else touches them)."""
        if len(password) > self.policy.max_length:
            raise PasswordRejectedError(
                f"the password is longer than {self.policy.max_length} characters",
                pattern_id=self.pattern_id,
            )

    def check(self, password: str, *, email: str | None = None) -> str:
        """The password, NFKC-normalised, or :class:`PasswordRejectedError` saying why.

        Normalising means a password typed with a composed or a decomposed accent (or on
        another keyboard layout) hashes the same.
        """
        self.check_length(password)
        normalised = normalise_password(password)
        if len(normalised) < self.policy.min_length:
            raise PasswordRejectedError(
                f"the password needs at least {self.policy.min_length} characters",
                pattern_id=self.pattern_id,
            )
        if not normalised.strip():
            raise PasswordRejectedError(
                "the password cannot be only spaces", pattern_id=self.pattern_id
            )
        if normalised.casefold() in self.common:
            raise PasswordRejectedError(
                "this password is on the list of commonly used passwords; choose another",
                pattern_id=self.pattern_id,
            )
        if email and self.policy.reject_email:
            local = email.split("@", 1)[0].casefold()
            if len(local) >= 4 and local in normalised.casefold():
                raise PasswordRejectedError(
                    "the password must not contain your email address",
                    pattern_id=self.pattern_id,
                )
        return normalised


def normalise_password(password: str) -> str:
    """NFKC form, so equivalent Unicode spellings of a password are one password."""
    return unicodedata.normalize("NFKC", password)


class PasswordHasher:
    """argon2id hashing and verification in a bounded thread pool.

    ``needs_rehash`` tells whether a stored hash was made with other parameters (the login
    then stores a fresh one). :meth:`verify_dummy` spends the same time as a real check, for
    logins of unknown emails, so response times do not reveal which emails have accounts.
    """

    def __init__(self, settings: HashingSettings) -> None:
        self._hasher = argon2.PasswordHasher(
            time_cost=settings.time_cost,
            memory_cost=settings.memory_cost,
            parallelism=settings.parallelism,
            type=argon2.Type.ID,
        )
        self._pool = ThreadPoolExecutor(
            max_workers=settings.threads, thread_name_prefix="rainmaker-argon2"
        )
        self._dummy_hash: str | None = None

    async def start(self) -> None:
        """Compute the dummy hash used for unknown users (with the current parameters)."""
        self._dummy_hash = await self.hash(secrets.token_urlsafe(24))

    def close(self) -> None:
        """Stop the worker threads (hashes in progress finish first)."""
        self._pool.shutdown(wait=True, cancel_futures=True)

    async def _run(self, fn: object, *args: str) -> object:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, fn, *args)  # type: ignore[arg-type]

    async def hash(self, password: str) -> str:
        """The argon2id hash of ``password`` (computed in the pool)."""
        result = await self._run(self._hasher.hash, password)
        assert isinstance(result, str)
        return result

    async def verify(self, stored_hash: str, password: str) -> bool:
        """Whether ``password`` matches ``stored_hash``; a corrupt hash never matches."""
        return bool(await self._run(self._verify, stored_hash, password))

    def _verify(self, stored_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(stored_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    async def verify_dummy(self, password: str) -> None:
        """Spend a verification's time on a hash no password matches."""
        if self._dummy_hash is None:
            await self.start()
        assert self._dummy_hash is not None
        await self.verify(self._dummy_hash, password)

    def needs_rehash(self, stored_hash: str) -> bool:
        """Whether ``stored_hash`` used other parameters (or another argon2 variant)."""
        try:
            return self._hasher.check_needs_rehash(stored_hash)
        except (InvalidHashError, ValueError):
            return True
