"""What a faceplate says in words: values with quality, command meanings, results and refusals.

Pure functions over plain types (no widgets), so each rule is tested alone. Every text a person
reads goes through `tr`; the core's English refusals are recognised by pattern and re-said in
the current language (anything not recognised is shown as the core wrote it).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from hmi.client import CommandDef, CommandResult
from hmi.commands.model import Outcome
from hmi.screen_config import SymbolDef
from hmi.tags import DataType, TagDef
from screens import i18n
from screens.i18n import tr
from screens.widgets.values import number_text, quality_text, value_text

__all__ = [
    "bool_meaning",
    "interlock_text",
    "number_text",
    "quality_text",
    "refusal_text",
    "result_text",
    "target_text",
    "value_text",
]


def bool_meaning(tag: str, symbol: SymbolDef | None = None) -> tuple[str, str]:
    """The English words of the true and false commands of a bool tag (for `tr`)."""
    point = tag.rsplit(".", maxsplit=1)[-1].upper()
    if point.endswith("_AUTO"):
        return "Auto", "Manual"
    if point.endswith("_WC"):
        return "Weather compensation on", "Weather compensation off"
    if point.startswith("HS") or (symbol is not None and symbol.symbol == "pump"):
        return "Start", "Stop"
    if point.startswith(("XV", "ZV", "SDV")) or (symbol is not None and symbol.symbol == "valve"):
        return "Open", "Close"
    return "On", "Off"


def target_text(tag: TagDef | None, command: str, target: Any, symbol: SymbolDef | None) -> str:
    """A command's target as a person reads it: Start / Manual / 35.0 %."""
    if isinstance(target, bool):
        on, off = bool_meaning(command, symbol)
        return tr(on if target else off)
    unit = tag.unit if tag is not None else ""
    return f"{number_text(tag, target)} {unit}".strip()


def interlock_text(command: CommandDef | None, message_en: str) -> str:
    """An interlock's message in the current language (the project gives both)."""
    if command is not None and i18n.current() == "zh_CN":
        for lock in command.interlocks:
            if lock.message_en == message_en:
                return lock.message_zh or lock.message_en
    return message_en


# The core's refusals (hmi.commands.service), recognised by pattern.
_REFUSALS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), text)
    for pattern, text in (
        (r"^wrong password$", "Wrong password: the command was not confirmed"),
        (r"^password required$", "Enter your password to confirm this command"),
        (r"^(?P<user>\S+) may not operate in area '(?P<area>[^']*)'$",
         "{user} may not operate in area {area}"),
        (r"^(?P<user>\S+) may not approve commands in area '(?P<area>[^']*)'$",
         "{user} may not approve commands in area {area}"),
        (r"^(?P<tag>\S+) cannot be commanded$", "{tag} cannot be commanded"),
        (r"^(?P<value>\S+) is above the maximum (?P<limit>\S+)$",
         "{value} is above the maximum {limit}"),
        (r"^(?P<value>\S+) is below the minimum (?P<limit>\S+)$",
         "{value} is below the minimum {limit}"),
        (r"^a step of (?P<step>\S+) from (?P<now>\S+) is more than the maximum step "
         r"(?P<limit>\S+)$",
         "A step of {step} from {now} is more than the maximum step {limit}"),
        (r"^(?P<tag>\S+) is selected by (?P<user>\S+) until (?P<time>\S+)$",
         "{tag} is selected by {user} until {time}"),
        (r"^the requester cannot approve their own command$",
         "The requester cannot approve their own command"),
        (r"^not confirmed with the password$", "Not confirmed with the password"),
        (r"^waiting for a second person's approval$", "Waiting for a second person's approval"),
        (r"^no such selection: select again$", "The selection is gone: select again"),
        (r".*expired.*", "The selection expired: select again"),
        (r".*belongs to (?P<user>\S+?)[.:]?$", "The selection belongs to {user}"),
        (r"^(?P<tag>\S+) has no good current value to limit the step against$",
         "{tag} has no good current value to limit the step against"),
    )
)  # fmt: skip


def refusal_text(error: BaseException, command: CommandDef | None = None) -> str:
    """A refusal from the core in the current language (an interlock in the project's words)."""
    message = str(error).strip()
    if command is not None:
        for lock in command.interlocks:
            if lock.message_en == message:
                return tr("Interlock: {message}").format(message=interlock_text(command, message))
    for pattern, text in _REFUSALS:
        found = pattern.match(message)
        if found:
            return tr(text).format(**found.groupdict())
    if isinstance(error, PermissionError):
        return tr("You may not do this here")
    return message or type(error).__name__


def result_text(
    result: CommandResult,
    tags: Mapping[str, TagDef],
    command: CommandDef | None,
    symbol: SymbolDef | None,
) -> str:
    """The outcome of an operated command: 'Verified: 35.0 % (read back 35.1 %)'."""
    tag = tags.get(result.tag)
    target = target_text(tag, result.tag, result.target, symbol)
    readback_tag = tags.get(command.readback) if command is not None and command.readback else tag
    if isinstance(result.readback, bool) and readback_tag is not None:
        readback = target_text(readback_tag, result.tag, result.readback, symbol)
    elif result.readback is None:
        readback = tr("none")
    else:
        unit = readback_tag.unit if readback_tag is not None else ""
        readback = f"{number_text(readback_tag, result.readback)} {unit}".strip()
    if result.outcome is Outcome.VERIFIED:
        return tr("Verified: {target} (read back {readback})").format(
            target=target, readback=readback
        )
    if result.outcome is Outcome.TIMEOUT:
        return tr("Timeout: {target} not reached in time (read back {readback})").format(
            target=target, readback=readback
        )
    return tr("Failed: the device refused the write of {target}").format(target=target)


def is_bool(tag: TagDef | None) -> bool:
    """True for a bool tag."""
    return tag is not None and tag.type is DataType.BOOL
