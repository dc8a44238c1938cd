"""Time presets of a trend: how far back the X axis reaches while it follows now."""

from __future__ import annotations

__all__ = ["CUSTOM", "DEFAULT", "PRESETS", "span_of"]

# key -> (seconds, English label for `tr`)
PRESETS: dict[str, tuple[float, str]] = {
    "10m": (600.0, "10 min"),
    "1h": (3600.0, "1 h"),
    "8h": (8 * 3600.0, "8 h (shift)"),
    "24h": (24 * 3600.0, "24 h"),
    "7d": (7 * 86400.0, "7 d"),
}
CUSTOM = "custom"
CUSTOM_LABEL = "Custom…"
DEFAULT = "1h"


def span_of(key: str) -> float:
    """Seconds a preset shows (the default's for an unknown key)."""
    return PRESETS.get(key, PRESETS[DEFAULT])[0]
