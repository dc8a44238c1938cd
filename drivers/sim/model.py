"""What every simulated plant offers its servers: stepping in accelerated time and reading points.

A plant subclasses `SteppedModel` and provides `_advance` (the physics over simulated seconds),
`measure` (refresh the published measurements, with noise and sensor faults) and `true_value`.
"""

from __future__ import annotations


class SteppedModel:
    """A plant advanced in simulated time (`speed` × real time) with published measurements."""

    speed: float
    measured: dict[str, float | bool]

    def step(self, dt_real: float) -> None:
        """Advance by `dt_real × speed` simulated seconds and publish fresh measurements."""
        self._advance(dt_real * self.speed)
        self.measure()

    def advance(self, sim_seconds: float) -> None:
        """Advance by `sim_seconds` simulated seconds regardless of speed, then publish."""
        self._advance(sim_seconds)
        self.measure()

    def read(self, point: str) -> float | bool:
        """The value published for `point`: measurement with noise and faults, or a command."""
        if point in self.measured:
            return self.measured[point]
        return self.true_value(point)

    def true_value(self, point: str) -> float | bool:
        """The model's own value behind `point`, without noise or sensor faults."""
        raise NotImplementedError

    def measure(self) -> None:
        """Refresh the published measurements from the model."""
        raise NotImplementedError

    def _advance(self, seconds: float) -> None:
        raise NotImplementedError
