"""Dialogs the shell shows at a seat: login, first start, lock and shift change."""

from __future__ import annotations

from screens.dialogs.login import FirstStartDialog, LockDialog, LoginDialog

__all__ = ["FirstStartDialog", "LockDialog", "LoginDialog"]
