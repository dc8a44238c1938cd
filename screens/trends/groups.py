"""Trend groups: a named set of pens and a time preset, kept as JSON files per installation.

The files live in `hmi.resources.data_home() / "trend_groups"` (one `<name>.json` each), so a
group belongs to this PC's installation, not to the project.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from hmi.resources import data_home
from screens.i18n import tr

__all__ = ["GroupError", "GroupExists", "GroupStore", "TrendGroup", "validate_name"]

MAX_NAME = 64
# letters of any script, digits, space and a few separators; nothing a file system treats apart
_NAME = re.compile(r"^[\w][\w .()+-]*$")
FORMAT_VERSION = 1


class GroupError(ValueError):
    """A group name or file that cannot be used; the message says why."""


class GroupExists(GroupError):
    """A group of that name is already saved."""


@dataclass(frozen=True, slots=True)
class TrendGroup:
    """Pens (tag names, in order), the hidden ones, and the time preset."""

    name: str
    pens: tuple[str, ...]
    preset: str = "1h"
    hidden: frozenset[str] = field(default_factory=frozenset)

    def to_json(self) -> str:
        """The group as a JSON document."""
        doc = {
            "version": FORMAT_VERSION,
            "name": self.name,
            "preset": self.preset,
            "pens": [{"tag": tag, "visible": tag not in self.hidden} for tag in self.pens],
        }
        return json.dumps(doc, ensure_ascii=False, indent=2)

    @classmethod
    def from_json(cls, text: str, source: str = "") -> TrendGroup:
        """A group read from its JSON document (GroupError when malformed)."""
        try:
            doc = json.loads(text)
            pens = [(str(p["tag"]), bool(p.get("visible", True))) for p in doc["pens"]]
            return cls(
                name=str(doc["name"]),
                pens=tuple(tag for tag, _ in pens),
                preset=str(doc.get("preset", "1h")),
                hidden=frozenset(tag for tag, visible in pens if not visible),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise GroupError(
                tr("{path}: not a trend group file ({error})").format(path=source, error=exc)
            ) from exc


def validate_name(name: str) -> str:
    """The name stripped, or GroupError saying what is wrong with it."""
    name = name.strip()
    if not name:
        raise GroupError(tr("The name is empty."))
    if len(name) > MAX_NAME:
        raise GroupError(tr("The name is longer than {n} characters.").format(n=MAX_NAME))
    if not _NAME.match(name):
        raise GroupError(tr("Use letters, digits, spaces and . ( ) + - _ only."))
    return name


class GroupStore:
    """The saved trend groups of this installation."""

    def __init__(self, folder: Path | None = None) -> None:
        self.folder = folder if folder is not None else data_home() / "trend_groups"

    def path(self, name: str) -> Path:
        """The file of a group."""
        return self.folder / f"{validate_name(name)}.json"

    def names(self) -> list[str]:
        """The names of the saved groups, sorted."""
        if not self.folder.is_dir():
            return []
        return sorted(p.stem for p in self.folder.glob("*.json"))

    def exists(self, name: str) -> bool:
        """True when a group of that name is saved."""
        return self.path(name).exists()

    def save(self, group: TrendGroup, *, overwrite: bool = False) -> Path:
        """Write a group (GroupExists when one of that name is there and not `overwrite`)."""
        path = self.path(group.name)
        if path.exists() and not overwrite:
            raise GroupExists(tr("A trend group named {name} exists.").format(name=group.name))
        self.folder.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(group.to_json(), encoding="utf-8")
        tmp.replace(path)
        return path

    def load(self, name: str) -> TrendGroup:
        """Read a saved group (GroupError when missing or malformed)."""
        path = self.path(name)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise GroupError(
                tr("{path}: cannot be read ({error})").format(path=path, error=exc.strerror or exc)
            ) from exc
        return TrendGroup.from_json(text, str(path))

    def delete(self, name: str) -> None:
        """Remove a saved group (nothing when it is not there)."""
        self.path(name).unlink(missing_ok=True)
