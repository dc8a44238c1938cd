"""Faceplates of plant symbols and the command dialog they open (select-before-operate)."""

from __future__ import annotations

from screens.faceplate.command_dialog import CommandDialog, Step
from screens.faceplate.faceplate import Faceplate

__all__ = ["CommandDialog", "Faceplate", "Step"]
