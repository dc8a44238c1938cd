"""Login time with the default scrypt parameters: slow on purpose, but not for the operator.

One user in a fresh SQLite store; ten logins (each: read the user, scrypt the password, audit,
reset the failure count) timed one by one. Printed: the median and the range, against the goal
of 100-500 ms (a guess costs an attacker as much; the operator barely notices).
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from hmi.audit.trail import AuditTrail
from hmi.db import open_database
from hmi.security.auth import Authenticator
from hmi.security.passwords import DEFAULT_PARAMS
from hmi.security.permissions import RoleGrant
from hmi.security.store import UserStore


def login(rounds: int = 10) -> None:
    """Median login time over `rounds` logins with the default parameters."""
    with tempfile.TemporaryDirectory(prefix="conduit-bench-login-") as folder:
        engine = open_database(None, Path(folder))
        try:
            audit = AuditTrail(engine)  # the login's audit record is part of its time
            store = UserStore(engine, audit)
            store.add_user("bench", "Timing-secret-1", [RoleGrant("administrator")], by="bench")
            auth = Authenticator(store, audit)
            times = []
            for _ in range(rounds):
                t = time.perf_counter()
                auth.logout(auth.login("bench", "Timing-secret-1"))
                times.append(time.perf_counter() - t)
        finally:
            engine.dispose()
    p = DEFAULT_PARAMS
    median = statistics.median(times)
    print(f"  scrypt n={p.n} r={p.r} p={p.p} ({p.memory / 2**20:.0f} MiB), {rounds} logins")
    print(
        f"  login: median {median * 1000:.0f} ms, {min(times) * 1000:.0f}-"
        f"{max(times) * 1000:.0f} ms (goal 100-500 ms: "
        f"{'ok' if 0.1 <= median <= 0.5 else 'OUT OF RANGE'})"
    )
