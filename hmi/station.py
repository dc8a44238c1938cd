"""Station: the composition root. Loads a project, builds the runtime and wires what feeds on it.

Everything that runs at a station (simulators when asked for, the runtime, the publisher when
the project has `[publish]`, and later history, alarms and command service) is created and
connected here, so no other module has to know about the others.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import asdict, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from drivers.base import DeviceConfig
from hmi.alarm_edit import set_alarm_field
from hmi.alarms.engine import AlarmEngine
from hmi.alarms.system import (
    DATABASE_ONLINE,
    JOURNAL_QUEUE,
    database_tag_defs,
    system_alarms,
)
from hmi.control import ControlServer, Handler
from hmi.diagnostics.service import DiagnosticsService
from hmi.history.service import HistoryService, history_path, history_tag_defs
from hmi.project import Project, load_project
from hmi.resources import data_home
from hmi.runtime import FIRST_VALUES_WAIT, Runtime
from hmi.simulation_process import SimulatorProcess

# The storage side (SQLAlchemy for the journal, users and audit; DuckDB, NumPy and PyArrow for
# history) is imported by `start`, on the thread that starts the station: building a station
# stays cheap, so the operator application draws its window meanwhile.
if TYPE_CHECKING:
    from sqlalchemy import Engine

    from hmi.alarms.journal import Journal
    from hmi.alarms.response import ResponseDesk
    from hmi.audit.trail import AuditTrail
    from hmi.commands.service import CommandService
    from hmi.history.store import HistoryStore
    from hmi.publish import Publisher  # pulls in protobuf: only for projects that publish
    from hmi.security.auth import Authenticator
    from hmi.security.store import UserStore
    from hmi.simulation import SimulationHost

DEFERRED_SIMULATORS_AFTER = 3.0  # seconds after the start, when the application asks

log = logging.getLogger("hmi.station")

DATABASE_ENV = "CONDUIT_DATABASE"  # a SQLAlchemy URL for the relational store (several seats)


class StationError(Exception):
    """The station cannot start as configured; the message says what to do."""


def runtime_devices(project: Project, data_dir: Path) -> dict[str, DeviceConfig]:
    """The project's devices as drivers get them: keyring passwords and the data folder filled in.

    The keyring is asked only for devices that log in (a `username` option).
    """
    devices: dict[str, DeviceConfig] = {}
    for name, device in project.devices.items():
        password = None
        if device.options.get("username"):
            from hmi.secrets import SecretsError, get_password  # the keyring, when needed

            try:
                password = get_password(name)
            except SecretsError as exc:
                raise StationError(str(exc)) from None
            if password is None:
                log.warning(
                    "device %s: no password stored (run `conduit secrets set %s`)", name, name
                )
        devices[name] = replace(device, password=password, data_dir=str(data_dir))
    return devices


class Station:
    """A running station: runtime plus, with `simulate`, the built-in plant simulators (in
    this process, or in the child process `simulator` when given)."""

    def __init__(
        self,
        project: Project,
        *,
        simulate: bool = False,
        sim_speed: float = 1.0,
        simulator: SimulatorProcess | None = None,
    ) -> None:
        self.project = project
        self.data_dir = data_home()
        self.simulation: SimulationHost | None = None
        self.simulator = simulator
        if simulate and simulator is None:
            from hmi.simulation import SimulationHost, simulated_endpoints

            self.simulation = SimulationHost(simulated_endpoints(project), speed=sim_speed)
        devices = runtime_devices(project, self.data_dir)
        self.runtime = Runtime(project, devices)
        self.diagnostics = DiagnosticsService(
            project.diagnostics, self.runtime.tags, self.runtime.store.get, devices=project.devices
        )
        self.runtime.add_system_tags(self.diagnostics.tag_defs(), self.diagnostics.evaluate)
        self.runtime.subscribe(self.diagnostics.on_changes)
        self.history = HistoryService(
            history_path(self.data_dir, project.name), self.runtime.tags, project.history
        )
        self.runtime.add_system_tags(history_tag_defs(), self.history.diagnostics)
        self.runtime.subscribe(self.history.on_changes)
        self.runtime.add_system_tags(database_tag_defs(), self._database_health)
        self.journal: Journal | None = None  # opened by start
        self.responses: ResponseDesk | None = None  # the response workflow, opened by start
        # who may do what, what they did, and every write to the plant: opened by start
        self.audit: AuditTrail | None = None
        self.users: UserStore | None = None
        self.auth: Authenticator | None = None
        self.commands: CommandService | None = None
        self.database: Engine | None = None  # the relational store, opened by start
        alarms = {**project.alarms, **system_alarms(publisher=project.publish is not None)}
        self.alarms = AlarmEngine(
            alarms,
            None,
            self.runtime.store.get,
            persist=lambda alarm, field, value: set_alarm_field(project.root, alarm, field, value),
        )
        self.alarms.hold_transitions()  # the runtime starts before the journal opens
        self.runtime.subscribe(self.alarms.on_changes)
        self.control: ControlServer | None = None  # built by start: it answers from history
        self.publisher: Publisher | None = None
        if project.publish is not None:
            from hmi.publish import Publisher, PublishError

            try:
                self.publisher = Publisher(
                    self.runtime,
                    project.publish,
                    devices[project.publish.device],
                    data_dir=self.data_dir,
                )
            except PublishError as exc:
                raise StationError(str(exc)) from None

    def _database_health(self) -> dict[str, Any]:
        """Values of the `_diag.database.*` tags (runtime thread: quick, no I/O)."""
        journal = self.journal
        if journal is None:
            return {}
        online = journal.online and self.diagnostics.records_online
        return {DATABASE_ONLINE: online, JOURNAL_QUEUE: journal.queued()}

    def _control_handlers(self) -> dict[str, Handler]:
        """What other processes may ask this station (see `hmi.control`)."""

        def on_history(answer: Callable[[HistoryStore, Mapping[str, Any]], Any]) -> Handler:
            def handle(args: Mapping[str, Any]) -> Any:
                store = self.history.store
                if store is None:
                    raise RuntimeError("history is not available at this station (see its log)")
                return answer(store, args)

            return handle

        from hmi.history.answers import ANSWERS

        handlers = {op: on_history(answer) for op, answer in ANSWERS.items()}
        handlers["station.backup"] = self._backup
        handlers["command.run"] = self._run_command
        handlers["alarms.active"] = lambda args: [
            {**asdict(v), "text_en": v.text("en"), "text_zh": v.text("zh_CN")}
            for v in self.alarms.active()
        ]
        handlers["station.status"] = lambda args: {
            "project": self.project.name,
            "pid": os.getpid(),
            "history_online": self.history.store is not None,
        }
        return handlers

    def _run_command(self, args: Mapping[str, Any]) -> dict[str, Any]:
        """Control request: one whole command for a person at a terminal (`conduit command`).

        Logs `user` in, selects, confirms with the same password, has `approver` approve when
        the point needs a second person, operates and waits for the read-back; logs out.
        """
        if self.auth is None or self.commands is None:
            raise RuntimeError("the command service is not running")
        auth, commands = self.auth, self.commands
        user, password = str(args.get("user", "")), str(args.get("password", ""))
        session = auth.login(user, password)
        try:
            selection = commands.select(session, str(args.get("tag", "")), args.get("value"))
            commands.confirm(session, selection.id, password)
            if selection.two_person:
                approver = str(args.get("approver") or "")
                if not approver:
                    commands.cancel(session, selection.id)
                    raise ValueError(f"{selection.tag} needs a second person: give --approver")
                second = auth.login(approver, str(args.get("approver_password", "")))
                try:
                    commands.approve(second, selection.id, str(args.get("approver_password", "")))
                finally:
                    auth.logout(second)
            result = commands.operate(session, selection.id).result()
        finally:
            auth.logout(session)
        return {
            "tag": result.tag,
            "old": result.old,
            "target": result.target,
            "outcome": result.outcome.value,
            "readback": result.readback,
            "message": result.message,
            "seconds": round(result.finished_at - result.written_at, 3),
        }

    def _backup(self, args: Mapping[str, Any]) -> dict[str, Any]:
        """Control request: back up history, the publisher's buffer and the project to `dest`."""
        dest = Path(str(args.get("dest", "")))
        if not dest.is_absolute():
            raise ValueError("dest: expected an absolute folder path")
        from hmi.history.backup import backup_station, backup_summary

        spool = self.publisher.spool if self.publisher is not None else None
        manifest = backup_station(
            dest,
            self.data_dir,
            self.project.name,
            store=self.history.store,
            sqlite_files=[] if spool is None else [spool],
            project_dir=self.project.root,
        )
        return backup_summary(dest, manifest)

    @classmethod
    def open(
        cls,
        path: str | Path,
        *,
        simulate: bool = False,
        sim_speed: float = 1.0,
        simulator: SimulatorProcess | None = None,
    ) -> Station:
        """Load the project folder at `path` (raises ProjectError) and build its station."""
        project = load_project(path)
        return cls(project, simulate=simulate, sim_speed=sim_speed, simulator=simulator)

    def start(self, *, values_first: bool = False) -> None:
        """Start the simulators (if any) and the runtime, then open history and the relational
        store, then start the publisher (if any), the alarms and the control endpoint.

        What the runtime delivers before the storage is open waits for it (nothing is lost).
        With `values_first` (the operator application) the first values come before the rest:
        the storage libraries and the slow driver libraries (asyncua), each most of a second
        under the interpreter lock, load once the runtime's first values are in (or after
        FIRST_VALUES_WAIT), and the slow in-process simulators (the OPC UA gas gate) are built
        DEFERRED_SIMULATORS_AFTER the start.
        """
        if self.simulator is not None:
            try:
                self.simulator.spawn()  # builds its plant while the driver modules load
            except OSError as exc:
                raise StationError(f"cannot start the simulator process: {exc}") from None
        self.runtime.prepare(values_first=values_first)
        try:
            self._start_simulators(values_first)
            self.runtime.start()
            if values_first:
                self.runtime.first_values.wait(FIRST_VALUES_WAIT)
            self.history.start()
            self._open_journal()
            if self.publisher is not None:
                from hmi.publish import PublishError

                try:
                    self.publisher.start()
                except PublishError as exc:
                    raise StationError(str(exc)) from None
        except BaseException:
            self.runtime.stop()
            self.history.stop()
            self._close_journal()
            self._stop_simulators()
            raise
        self.alarms.start()
        self.control = ControlServer(self.data_dir, self.project.name, self._control_handlers())
        try:
            self.control.start()
        except OSError as exc:  # the station runs; only other processes cannot ask it
            log.error("control endpoint unavailable: %s", exc)
        if self.simulation is not None and values_first:
            # its two seconds of CPU would compete with the first screen and the first values
            self.simulation.start_deferred(DEFERRED_SIMULATORS_AFTER)
        log.info("station %s started (%d tags)", self.project.name, len(self.runtime.tags))

    def _open_journal(self) -> None:
        """Open the relational store and what lives in it: journal, records, users, audit."""
        from hmi.alarms.journal import Journal
        from hmi.alarms.response import ResponseDesk, ResponseLog
        from hmi.audit.trail import AuditTrail
        from hmi.commands.service import CommandService
        from hmi.db import create_all, open_database
        from hmi.security.auth import Authenticator
        from hmi.security.store import UserStore

        database = open_database(os.environ.get(DATABASE_ENV) or None, self.data_dir)
        try:
            create_all(database)
        except Exception as exc:
            database.dispose()
            raise StationError(f"cannot open the alarm journal in {self.data_dir}: {exc}") from None
        self.database = database
        responses = ResponseLog(database)
        try:
            responses.seed_causes()
        except Exception as exc:  # the catalogue can be filled later; alarms must run
            log.warning("cannot fill the alarm cause catalogue: %s", exc)
        self.responses = ResponseDesk(responses, lambda alarm: self.alarms.view(alarm).area)
        # the response records follow the journal: opened at activation, acks filled in
        self.journal = Journal(database, also=[responses.apply_in])
        self.alarms.attach_journal(self.journal)  # with what the alarms did meanwhile
        self.diagnostics.start(database)
        audit = self.audit = self.alarms.audit = AuditTrail(database)
        self.users = UserStore(database, audit, host=audit.host)
        self.auth = Authenticator(self.users, audit, host=audit.host)
        runtime = self.runtime
        self.commands = CommandService(
            self.project.commands,
            runtime.tags,
            runtime.store.get,
            lambda tag, value: runtime.call(runtime.write(tag, value)),
            audit=audit,
            verify_password=self.auth.verify_password,  # type: ignore[arg-type]
            host=audit.host,
        )
        runtime.subscribe(self.commands.on_changes)

    def _close_commands(self) -> None:
        """Let commands under way finish (their read-back needs the runtime), then stop."""
        if self.commands is not None:
            self.runtime.unsubscribe(self.commands.on_changes)
            self.commands.close()
            self.commands = None

    def _close_journal(self) -> None:
        self._close_commands()
        if self.journal is not None:
            self.diagnostics.stop()
            self.journal.close()
            if self.database is not None:
                self.database.dispose()
                self.database = None
            self.alarms.attach_journal(None)
            self.journal = None

    def stop(self) -> None:
        """Stop the control endpoint, the publisher (if any), the runtime, then the simulators."""
        if self.control is not None:
            self.control.stop()
        self._close_commands()
        self.diagnostics.stop()  # first: links closing at the stop are no outages
        self.alarms.stop()
        if self.publisher is not None:
            self.publisher.stop()
        self.runtime.stop()
        self.history.stop()
        self._close_journal()
        self._stop_simulators()

    def _start_simulators(self, defer_slow: bool) -> None:
        """Start the in-process simulators, or wait for the child process's; until they listen."""
        if self.simulation is not None:
            self.simulation.start(defer_slow=defer_slow)
        if self.simulator is not None:
            self.simulator.start(defer_slow=defer_slow)

    def _stop_simulators(self) -> None:
        if self.simulation is not None:
            self.simulation.stop()
        if self.simulator is not None:
            self.simulator.stop()

    def __enter__(self) -> Station:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
