"""Password hashing: scrypt with a random salt, the parameters stored with the hash.

A stored hash reads `scrypt$N$r$p$salt$hash` (salt and hash in base64), so the cost can be
raised later: old hashes still verify with their own parameters and are re-hashed with the new
ones at the next successful login (`needs_rehash`). The default cost makes one hash take about
200 ms on a two-core station PC (`python -m bench login`): slow on purpose, so a stolen
database costs an attacker that much per guess. Nothing here logs or keeps a password.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from dataclasses import dataclass

__all__ = ["DEFAULT_PARAMS", "ScryptParams", "hash_password", "needs_rehash", "verify_password"]

_SCHEME = "scrypt"
_SALT_BYTES = 16
_KEY_BYTES = 32
_MAX_LOG2_N = 22  # a tampered row must not make one verification take minutes
_MAX_R = 32
_MAX_P = 16


@dataclass(frozen=True, slots=True)
class ScryptParams:
    """scrypt's cost: `n` (CPU and memory, a power of two), block size `r`, parallelism `p`."""

    n: int = 2**16
    r: int = 8
    p: int = 1

    def __post_init__(self) -> None:
        if self.n < 2 or self.n & (self.n - 1) or self.n > 2**_MAX_LOG2_N:
            raise ValueError(f"scrypt n must be a power of two up to 2**{_MAX_LOG2_N}")
        if not 1 <= self.r <= _MAX_R or not 1 <= self.p <= _MAX_P:
            raise ValueError(f"scrypt r must be 1..{_MAX_R} and p 1..{_MAX_P}")

    @property
    def memory(self) -> int:
        """Bytes scrypt needs with these parameters (plus a margin)."""
        return 128 * self.r * (self.n + self.p + 2) + 2**20


# n=2**16, r=8: 64 MiB and about 200 ms per hash on the reference two-core machine
DEFAULT_PARAMS = ScryptParams()


def _derive(password: str, salt: bytes, params: ScryptParams) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8"),
        salt=salt,
        n=params.n,
        r=params.r,
        p=params.p,
        maxmem=params.memory,
        dklen=_KEY_BYTES,
    )


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def hash_password(password: str, params: ScryptParams = DEFAULT_PARAMS) -> str:
    """The storable hash of `password` with a fresh random salt."""
    salt = os.urandom(_SALT_BYTES)
    key = _derive(password, salt, params)
    return f"{_SCHEME}${params.n}${params.r}${params.p}${_b64(salt)}${_b64(key)}"


def _parse(stored: str) -> tuple[ScryptParams, bytes, bytes] | None:
    parts = stored.split("$")
    if len(parts) != 6 or parts[0] != _SCHEME:
        return None
    try:
        params = ScryptParams(int(parts[1]), int(parts[2]), int(parts[3]))
        salt = base64.b64decode(parts[4], validate=True)
        key = base64.b64decode(parts[5], validate=True)
    except ValueError:
        return None
    if not salt or not key:
        return None
    return params, salt, key


def verify_password(password: str, stored: str) -> bool:
    """True when `password` hashes to `stored`; False also for a malformed stored hash."""
    parsed = _parse(stored)
    if parsed is None:
        return False
    params, salt, key = parsed
    return hmac.compare_digest(_derive(password, salt, params), key)


def needs_rehash(stored: str, params: ScryptParams = DEFAULT_PARAMS) -> bool:
    """True when `stored` was made with other parameters than `params` (or is malformed)."""
    parsed = _parse(stored)
    return parsed is None or parsed[0] != params
