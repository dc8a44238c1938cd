"""Password hashing (scrypt, parameters in the stored string) and the password policy."""

from __future__ import annotations

import pytest

from hmi.security.errors import PasswordRefused
from hmi.security.passwords import (
    DEFAULT_PARAMS,
    ScryptParams,
    hash_password,
    needs_rehash,
    verify_password,
)
from hmi.security.policy import PasswordPolicy, character_classes

FAST = ScryptParams(n=2**8, r=8, p=1)  # tests: the format and logic, not the cost


def test_a_hash_verifies_its_password_only_and_carries_its_parameters() -> None:
    stored = hash_password("Valve-open-42", FAST)
    scheme, n, r, p, salt, key = stored.split("$")
    assert (scheme, n, r, p) == ("scrypt", "256", "8", "1")
    assert len(salt) == 24 and len(key) == 44  # base64 of 16 and 32 bytes
    assert verify_password("Valve-open-42", stored)
    assert not verify_password("Valve-open-43", stored)
    assert not verify_password("", stored)
    again = hash_password("Valve-open-42", FAST)
    assert again != stored and verify_password("Valve-open-42", again)  # a fresh salt each time


def test_the_default_cost_is_slow_on_purpose_and_can_be_raised() -> None:
    assert (DEFAULT_PARAMS.n, DEFAULT_PARAMS.r, DEFAULT_PARAMS.p) == (2**16, 8, 1)
    stored = hash_password("Valve-open-42", FAST)
    assert needs_rehash(stored, DEFAULT_PARAMS) and not needs_rehash(stored, FAST)
    assert needs_rehash("not a hash", FAST)


@pytest.mark.parametrize(
    "stored",
    [
        "",
        "plain-text-password",
        "bcrypt$2b$12$abc",
        "scrypt$256$8$1$not-base64!$AAAA",
        "scrypt$255$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAA",  # n not a power of two
        f"scrypt${2**30}$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAA",  # a tampered row: minutes per try
        "scrypt$256$8$1$$",
    ],
)
def test_a_malformed_stored_hash_never_verifies(stored: str) -> None:
    assert not verify_password("anything-at-all-1", stored)


def test_bad_parameters_are_refused() -> None:
    with pytest.raises(ValueError, match="power of two"):
        ScryptParams(n=1000)
    with pytest.raises(ValueError, match="r must be"):
        ScryptParams(r=0)


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("Short-1", "at least 10 characters"),
        ("x" * 257, "at most 256 characters"),
        (" Leading-space-1", "must not start or end with a space"),
        ("My-Alice-password-1", "must not contain the user name"),
        ("onlylowercaseletters", "at least 2 kinds of characters"),
        ("1234567890123", "at least 2 kinds of characters"),
    ],
)
def test_the_policy_refuses_with_a_message_naming_the_rule(password: str, message: str) -> None:
    with pytest.raises(PasswordRefused, match=message) as info:
        PasswordPolicy().check("alice", password)
    assert password not in str(info.value)


def test_the_policy_is_configurable() -> None:
    strict = PasswordPolicy(min_length=14, min_classes=3)
    with pytest.raises(PasswordRefused, match="at least 14 characters"):
        strict.check("bob", "Abcdefgh-1234")
    with pytest.raises(PasswordRefused, match="at least 3 kinds"):
        strict.check("bob", "abcdefgh123456")
    strict.check("bob", "Abcdefgh-12345")
    PasswordPolicy().check("al", "Al-is-short-9")  # a name under 3 characters is not searched
    assert character_classes("aB3-") == 4 and character_classes("水水水水") == 1


def test_a_recent_password_is_refused() -> None:
    recent = [hash_password(f"Old-password-{i}", FAST) for i in range(5)]
    policy = PasswordPolicy()
    with pytest.raises(PasswordRefused, match="differ from the last 5 passwords"):
        policy.check_history("Old-password-3", recent)
    policy.check_history("New-password-9", recent)
    PasswordPolicy(history=0).check_history("Old-password-3", recent)
