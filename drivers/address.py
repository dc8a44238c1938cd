"""Source addresses: `scheme://authority/path?query#member`, split, validated and formatted.

Pure functions only. The generic grammar lives here; each driver's `parse` checks its own
path and query keys and hands back a canonical `Address` (defaults dropped, keys in a fixed
order), so `format(parse(text))` is stable and project diffs stay clean.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote


def _quote(text: str, reserved: str) -> str:
    """Percent-encode '%', `reserved`, spaces and control characters; keep the rest raw.

    Raw Unicode stays readable in project files (Chinese topic names and NodeIds).
    """
    if not any(c == "%" or c in reserved or c.isspace() or not c.isprintable() for c in text):
        return text
    return "".join(
        "".join(f"%{b:02X}" for b in c.encode())
        if c == "%" or c in reserved or c.isspace() or not c.isprintable()
        else c
        for c in text
    )


class AddressError(ValueError):
    """An address that cannot be used, with the failing part and a hint a person can act on."""

    def __init__(self, address: str, message: str) -> None:
        super().__init__(f"{address}: {message}")
        self.address = address
        self.message = message


@dataclass(frozen=True, slots=True)
class Address:
    """A parsed source address; `str(address)` is its canonical text."""

    scheme: str
    authority: str
    segments: tuple[str, ...]
    query: tuple[tuple[str, str], ...] = ()
    member: str | None = None

    @property
    def path(self) -> str:
        """The decoded path segments joined by '/'."""
        return "/".join(self.segments)

    @property
    def connection_key(self) -> str:
        """Scheme and authority: one link per connection key."""
        return f"{self.scheme}://{self.authority}"

    @property
    def key(self) -> str:
        """Everything but the member: one poll block or subscription per key."""
        text = self.connection_key + "/" + "/".join(_quote(s, "/?#") for s in self.segments)
        if self.query:
            text += "?" + "&".join(f"{k}={_quote(v, '&#')}" for k, v in self.query)
        return text

    def option(self, name: str, default: str | None = None) -> str | None:
        """The value of one query key, or `default`."""
        for k, v in self.query:
            if k == name:
                return v
        return default

    def __str__(self) -> str:
        if self.member is None:
            return self.key
        return self.key + "#" + _quote(self.member, "#")


def split(text: str) -> Address:
    """Split an address into its parts (generic grammar only; drivers validate the rest)."""
    original = text
    text = text.strip()
    if "://" not in text:
        raise AddressError(original, "expected scheme://device/path (e.g. modbus://PLC1/1/hr/100)")
    scheme, rest = text.split("://", 1)
    scheme = scheme.lower()
    if not scheme.isidentifier():
        raise AddressError(original, f"invalid scheme {scheme!r}")
    member: str | None = None
    if "#" in rest:
        rest, raw_member = rest.split("#", 1)
        member = unquote(raw_member)
    query: list[tuple[str, str]] = []
    if "?" in rest:
        rest, raw_query = rest.split("?", 1)
        seen: set[str] = set()
        for part in raw_query.split("&"):
            if not part:
                continue
            if "=" not in part:
                raise AddressError(original, f"query item {part!r} must be key=value")
            k, v = part.split("=", 1)
            k = unquote(k).lower()
            if k in seen:
                raise AddressError(original, f"query key {k!r} given twice")
            seen.add(k)
            query.append((k, unquote(v)))
    authority, _, path = rest.partition("/")
    if not authority:
        raise AddressError(original, "missing device name after '://'")
    segments = tuple(unquote(s) for s in path.split("/")) if path else ()
    return Address(scheme, authority, segments, tuple(query), member)


def canonical_query(
    address: Address, text: str, order: tuple[str, ...], defaults: dict[str, str]
) -> tuple[tuple[str, str], ...]:
    """Check query keys against `order`, drop default values, return them in that order."""
    given = dict(address.query)
    unknown = sorted(set(given) - set(order))
    if unknown:
        raise AddressError(
            text, f"unknown query key {unknown[0]!r} (expected one of {', '.join(order)})"
        )
    return tuple((k, given[k]) for k in order if k in given and defaults.get(k) != given[k])
