"""Station: the composition root. Loads a project, builds the runtime and wires what feeds on it.

Everything that runs at a station (simulators when asked for, the runtime, and later history,
alarms, publisher and command service) is created and connected here, so no other module has
to know about the others.
"""

from __future__ import annotations

import logging
from pathlib import Path

from hmi.project import Project, load_project
from hmi.runtime import Runtime
from hmi.simulation import SimulationHost

log = logging.getLogger("hmi.station")


class Station:
    """A running station: runtime plus, with `simulate`, the built-in plant simulators."""

    def __init__(self, project: Project, *, simulate: bool = False, sim_speed: float = 1.0) -> None:
        self.project = project
        self.simulation = SimulationHost(project, speed=sim_speed) if simulate else None
        self.runtime = Runtime(project)

    @classmethod
    def open(cls, path: str | Path, *, simulate: bool = False, sim_speed: float = 1.0) -> Station:
        """Load the project folder at `path` (raises ProjectError) and build its station."""
        return cls(load_project(path), simulate=simulate, sim_speed=sim_speed)

    def start(self) -> None:
        """Start the simulators (if any), then the runtime."""
        if self.simulation is not None:
            self.simulation.start()
        try:
            self.runtime.start()
        except BaseException:
            if self.simulation is not None:
                self.simulation.stop()
            raise
        log.info("station %s started (%d tags)", self.project.name, len(self.runtime.tags))

    def stop(self) -> None:
        """Stop the runtime, then the simulators."""
        self.runtime.stop()
        if self.simulation is not None:
            self.simulation.stop()

    def __enter__(self) -> Station:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
