"""The password policy: length, not the user name, not a recent password, mixed characters.

Each refusal raises `PasswordRefused` with a message saying which rule, never the password.
The history rule needs the recent hashes, so the store calls `check_history` with them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from hmi.security.errors import PasswordRefused
from hmi.security.passwords import verify_password

__all__ = ["PasswordPolicy", "character_classes"]


def character_classes(password: str) -> int:
    """How many of lower case, upper case, digits and other characters `password` uses."""
    kinds = (str.islower, str.isupper, str.isdigit)
    found = {i for c in password for i, k in enumerate(kinds) if k(c)}
    others = any(not (c.islower() or c.isupper() or c.isdigit()) for c in password)
    return len(found) + others


@dataclass(frozen=True, slots=True)
class PasswordPolicy:
    """Rules a new password must meet (defaults follow common control-system practice)."""

    min_length: int = 10
    max_length: int = 256
    min_classes: int = 2  # of: lower case, upper case, digits, others
    history: int = 5  # a new password may not be one of the last this many (0: no check)
    # a user name shorter than this is not searched for (a name "al" would refuse too much)
    name_min_length: int = 3

    def check(self, name: str, password: str) -> None:
        """Raise PasswordRefused when `password` breaks a rule other than the history."""
        if len(password) < self.min_length:
            raise PasswordRefused(
                f"the password must be at least {self.min_length} characters long"
            )
        if len(password) > self.max_length:
            raise PasswordRefused(f"the password must be at most {self.max_length} characters")
        if password.strip() != password:
            raise PasswordRefused("the password must not start or end with a space")
        if len(name) >= self.name_min_length and name.casefold() in password.casefold():
            raise PasswordRefused("the password must not contain the user name")
        if character_classes(password) < self.min_classes:
            raise PasswordRefused(
                f"the password must mix at least {self.min_classes} kinds of characters "
                "(lower case, upper case, digits, others)"
            )

    def check_history(self, password: str, recent: Iterable[str]) -> None:
        """Raise PasswordRefused when `password` matches one of the `recent` hashes."""
        if self.history and any(verify_password(password, h) for h in recent):
            raise PasswordRefused(
                f"the password must differ from the last {self.history} passwords"
            )
