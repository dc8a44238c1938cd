"""Trends: live values and history of several tags in one chart (pyqtgraph)."""

from __future__ import annotations

from screens.trends.chart import TrendView

__all__ = ["TrendView"]
