"""Alarms as the operator meets them: the alarm panel (active alarms, requests, response
workflow, journal), the banner on every screen, and the horn."""

from __future__ import annotations

from screens.alarms.banner import AlarmBanner
from screens.alarms.horn import Horn
from screens.alarms.panel import AlarmPanel

__all__ = ["AlarmBanner", "AlarmPanel", "Horn"]
