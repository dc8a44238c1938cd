"""How every screen words a value: numbers with the tag's decimals, bad quality as BAD (never a
plausible number), and why a value is not good, in the current language."""

from __future__ import annotations

from typing import Any

from hmi.tags import DataType, Quality, Reason, TagDef, Value
from screens.i18n import tr

__all__ = ["REASONS", "number_text", "quality_text", "reason_text", "value_text"]

# English texts (keys for tr): why a value is not good
REASONS = {
    Reason.NONE: "unknown",
    Reason.INITIAL: "no value received yet",
    Reason.COMM_FAILURE: "communication failure",
    Reason.TIMEOUT: "the device did not answer in time",
    Reason.DEVICE_ERROR: "the device answered with an error",
    Reason.DECODE_ERROR: "the answer could not be decoded",
    Reason.STALE: "stale: no update for too long",
    Reason.OUT_OF_RANGE: "outside the physical range",
    Reason.CONFIG_ERROR: "configuration error",
    Reason.CALC_ERROR: "calculation error",
}


def reason_text(reason: Reason) -> str:
    """Why a value is not good, in the current language."""
    return tr(REASONS.get(reason, "unknown"))


def number_text(tag: TagDef | None, number: Any, *, unit: bool = False) -> str:
    """A good value with the tag's decimals (2 when it declares none); bools as On / Off;
    with `unit`, followed by the tag's unit."""
    if isinstance(number, bool):
        return tr("On") if number else tr("Off")
    if isinstance(number, float):
        decimals = 2 if tag is None or tag.decimals is None else tag.decimals
        text = f"{number:.{decimals}f}"
        if text.startswith("-") and float(text) == 0.0:
            text = text[1:]  # no "-0.0" on a screen
    else:
        text = "" if number is None else str(number)
    if unit and tag is not None and tag.unit and tag.type is not DataType.BOOL:
        return f"{text} {tag.unit}"
    return text


def value_text(tag: TagDef | None, value: Value) -> tuple[str, bool]:
    """The value as shown (without unit) and whether it is bad: bad is never a number."""
    if value.quality is Quality.BAD or value.value is None:
        return tr("BAD"), True
    return number_text(tag, value.value), False


def quality_text(value: Value) -> str:
    """Good, or the quality with its reason, in words."""
    if value.quality is Quality.GOOD:
        return tr("good")
    kind = tr("bad") if value.quality is Quality.BAD else tr("uncertain")
    return f"{kind}: {reason_text(value.reason)}"
