"""Names of priorities, states and journal events in the current language, for combos and cells.

Priorities and states come from the model's own tables (screens.alarms.model); events go through
`tr` with the catalogue resources/i18n/zh_CN/alarms.toml.
"""

from __future__ import annotations

from hmi.alarms.model import Event
from hmi.client import AlarmState, Priority
from screens import i18n
from screens.alarms.model import LANGUAGES, PRIORITY_TEXT, STATE_TEXT
from screens.i18n import tr

__all__ = ["EVENT_TEXT", "event_name", "language", "priority_name", "state_name"]

EVENT_TEXT: dict[Event, str] = {
    Event.ACTIVATE: "Activated",
    Event.CLEAR: "Cleared",
    Event.ACK: "Acknowledged",
    Event.SHELVE: "Shelved",
    Event.UNSHELVE: "Unshelved",
    Event.SUPPRESS: "Suppressed",
    Event.UNSUPPRESS: "Unsuppressed",
    Event.REMOVE_FROM_SERVICE: "Removed from service",
    Event.RETURN_TO_SERVICE: "Returned to service",
    Event.RESET: "Reset",
    Event.EDIT: "Edited",
}


def language() -> str:
    """The current language as the model knows it ("en" or "zh_CN")."""
    code = i18n.current()
    return code if code in LANGUAGES else "en"


def priority_name(priority: Priority) -> str:
    """A priority's name in the current language."""
    return PRIORITY_TEXT[language()].get(priority, str(int(priority)))


def state_name(state: AlarmState) -> str:
    """An alarm state's name in the current language."""
    return STATE_TEXT[language()].get(state, str(state))


def event_name(event: Event) -> str:
    """A journal event's name in the current language."""
    return tr(EVENT_TEXT.get(event, str(event)))
