"""LinkMonitor statistics and state logging, and reconnect Backoff."""

from __future__ import annotations

import logging

import pytest

from drivers.link import Backoff, LinkMonitor, keep_linked


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_counts_and_percentiles() -> None:
    monitor = LinkMonitor("PLC1", clock=Clock())
    for ms in range(1, 101):
        monitor.ok(ms / 1000)
    monitor.error("ILLEGAL_ADDRESS")
    monitor.timeout()
    stats = monitor.stats()
    assert (stats.requests, stats.errors, stats.timeouts) == (102, 1, 1)
    assert stats.rtt_p50_ms == pytest.approx(50.0)
    assert stats.rtt_p99_ms == pytest.approx(99.0)
    assert stats.last_error == "timeout"
    assert stats.device == "PLC1"


def test_empty_stats() -> None:
    stats = LinkMonitor("PLC1").stats()
    assert stats.rtt_p50_ms is None and stats.rtt_p99_ms is None
    assert stats.loss_pct == 0.0 and not stats.online


def test_loss_is_timeouts_and_failures_over_the_recent_window() -> None:
    monitor = LinkMonitor("PLC1", loss_window=10, rtt_window=5)
    for _ in range(10):
        monitor.timeout()
    assert monitor.stats().loss_pct == 100.0
    for _ in range(6):
        monitor.ok(0.001)
    monitor.failure("refused")
    monitor.error("garbage")  # an answer that is an error is not loss
    assert monitor.stats().loss_pct == pytest.approx(30.0)  # 2 timeouts + 1 failure of 10
    for _ in range(10):
        monitor.ok(0.002)
    assert monitor.stats().loss_pct == 0.0
    assert monitor.stats().rtt_p99_ms == pytest.approx(2.0)  # old samples left the window
    assert monitor.stats().requests == 28


def test_logs_once_per_state_change(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    monitor = LinkMonitor("PLC1", logging.getLogger("drivers.test"), clock=clock)
    caplog.set_level(logging.INFO, logger="drivers.test")
    clock.now = 1001.0
    assert monitor.set_online("10.0.0.5:502")
    assert not monitor.set_online()
    assert monitor.stats().since == 1001.0 and monitor.online
    clock.now = 1002.0
    assert monitor.set_offline("connection refused")
    assert not monitor.set_offline("connection refused")
    assert not monitor.set_offline("still refused")
    monitor.reconnected()
    clock.now = 1003.0
    assert monitor.set_online()
    stats = monitor.stats()
    assert (stats.online, stats.since, stats.reconnects) == (True, 1003.0, 1)
    messages = [r.getMessage() for r in caplog.records if r.name == "drivers.test"]
    assert messages == [
        "PLC1 online (10.0.0.5:502)",
        "PLC1 offline: connection refused",
        "PLC1 online",
    ]


def test_default_logger_is_drivers_link(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="drivers.link")
    LinkMonitor("X").set_offline("down")
    assert [r.name for r in caplog.records] == ["drivers.link"]


def test_backoff_grows_with_full_jitter_between_min_and_max() -> None:
    seen: list[tuple[float, float]] = []

    def rng(low: float, high: float) -> float:
        seen.append((low, high))
        return high

    backoff = Backoff(0.5, 30.0, rng=rng)
    delays = [backoff.next() for _ in range(9)]
    assert delays == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0]
    assert all(low == 0.5 for low, _ in seen)
    backoff.reset()
    assert backoff.next() == 0.5


def test_backoff_real_jitter_stays_in_bounds() -> None:
    backoff = Backoff(0.1, 1.0)
    delays = [backoff.next() for _ in range(200)]
    assert all(0.1 <= d <= 1.0 for d in delays)
    assert len(set(delays)) > 100  # jittered, not a fixed ladder
    with pytest.raises(ValueError):
        Backoff(2.0, 1.0)


def test_keep_linked_backs_off_after_failures_and_retries_a_dropped_link_at_once() -> None:
    import asyncio

    monitor = LinkMonitor("PLC1")
    delays: list[float] = []
    backoff = Backoff(0.001, 0.002, rng=lambda lo, hi: delays.append(hi) or 0.0)
    attempts = iter([None, None, "link-1", "link-2", None])  # fail, fail, up, up, fail...
    events: list[str] = []

    async def open_link() -> str | None:
        link = next(attempts, None)
        events.append(f"open:{link}")
        if link is not None:
            monitor.set_online("up")
        return link

    async def serve(link: str) -> str:
        events.append(f"serve:{link}")
        if link == "link-2":
            raise asyncio.CancelledError  # the runtime stops the driver while it serves
        return "connection reset"

    async def close(link: str) -> None:
        events.append(f"close:{link}")

    async def scenario() -> None:
        with pytest.raises(asyncio.CancelledError):
            await keep_linked(
                open_link,
                serve,
                close,
                monitor=monitor,
                backoff=backoff,
                went_offline=lambda why: (
                    events.append(f"offline:{why}"),
                    monitor.set_offline(why),
                ),
            )

    asyncio.run(scenario())
    assert events == [
        "open:None",
        "open:None",
        "open:link-1",
        "serve:link-1",
        "close:link-1",
        "offline:connection reset",
        "open:link-2",
        "serve:link-2",
        "close:link-2",
    ]
    assert len(delays) == 2  # a delay after each failed open, none before retrying a dropped link
    assert monitor.stats().reconnects == 1


def test_a_device_never_reached_is_offline_not_lossy_but_a_drop_is_loss() -> None:
    monitor = LinkMonitor("PLC1", loss_window=10)
    for _ in range(3):
        monitor.connect_failed("cannot connect to 127.0.0.1:502")
    stats = monitor.stats()
    assert stats.loss_pct == 0.0 and stats.requests == 3 and not stats.online
    assert stats.last_error == "cannot connect to 127.0.0.1:502" and monitor.failures == 3
    monitor.set_online()
    monitor.ok(0.001)
    monitor.set_offline("connection reset")
    monitor.connect_failed("cannot connect to 127.0.0.1:502")  # once reached, a drop is loss
    assert monitor.stats().loss_pct == pytest.approx(50.0)
