"""The diagnostics screen: device links, data-quality findings and the HMI's own services."""

from screens.diagnostics.screen import DiagnosticsScreen

__all__ = ["DiagnosticsScreen"]
