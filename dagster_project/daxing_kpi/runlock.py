"""One run of the nightly job at a time: the lock file ``warehouse/run.lock``.

The lock is an exclusive ``flock`` on ``warehouse/run.lock``; the file itself says who holds it
(or held it last) as JSON: ``state`` (``running`` or ``released``), ``pid``, ``host``,
``run_id``, ``trigger``, ``started_at`` and the command. The kernel drops the ``flock`` when
the holding process dies, whatever kills it (``kill -9``, power cut), so a lock is never
left stuck; a file still saying ``running`` when the lock is acquired is the trace of a run
that died: :meth:`RunLock.acquire` returns that stale owner so the caller can record the
crash (see :func:`daxing_kpi.operations.handle_crashed_run`).

Errors raised: :class:`RunLockBusy` when another live process holds the lock (its message
names the owner).
"""

from __future__ import annotations

import datetime as dt
import errno
import fcntl
import json
import os
import socket
import sys
import time
from collections.abc import Callable
from pathlib import Path

from daxing_kpi.paths import run_lock_path

# Locks held by this process, by path: the CLI takes the lock before Dagster starts the run,
# and the run's RunGuard resource (same process) then finds it here instead of deadlocking.
_HELD: dict[str, RunLock] = {}


class RunLockBusy(RuntimeError):
    """Another live process runs the nightly job; ``owner`` is what its lock file says."""

    def __init__(self, path: Path, owner: dict | None):
        self.path = Path(path)
        self.owner = owner or {}
        super().__init__(describe_busy(self.path, self.owner))


def describe_owner(owner: dict) -> str:
    """One line naming a lock owner: run id, pid, host, start time and trigger."""
    if not owner:
        return "an unknown process (the lock file is empty)"
    return (
        f"run {owner.get('run_id') or '(not started yet)'} (pid {owner.get('pid')} on {owner.get('host')},"
        f" started {owner.get('started_at')}, trigger {owner.get('trigger')})"
    )


def describe_busy(path: Path, owner: dict) -> str:
    """The message of :class:`RunLockBusy`: who runs, and what to do."""
    return (
        f"Another KPI run is in progress: {describe_owner(owner)}.\n"
        f"This run was not started and nothing was written. Wait until it finishes, or use"
        f" `kpi run --wait` to queue behind it. Lock file: {path}"
    )


def pid_alive(pid: int | None) -> bool:
    """Whether process ``pid`` exists on this host."""
    if not pid:
        return False
    try:
        os.kill(int(pid), 0)
    except OSError as e:
        return e.errno == errno.EPERM
    return True


def read_owner(path: Path | None = None) -> dict | None:
    """What the lock file says (``None`` when missing or empty); never blocks."""
    path = Path(path or run_lock_path())
    for _ in range(5):  # the holder may be rewriting it right now
        try:
            text = path.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None
        if not text:
            return None
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            time.sleep(0.05)
    return None


def held_by_this_process(path: Path | None = None) -> RunLock | None:
    """The lock this process already holds on ``path`` (default ``warehouse/run.lock``), if any."""
    lock = _HELD.get(str(Path(path or run_lock_path()).resolve()))
    return lock if lock is not None and lock.held else None


class RunLock:
    """Exclusive lock on the warehouse for one run, with its owner written in the lock file."""

    def __init__(self, path: Path | None = None):
        self.path = Path(path or run_lock_path()).resolve()
        self._fd: int | None = None
        self._claimed = False
        self.owner: dict = {}

    @property
    def held(self) -> bool:
        return self._fd is not None

    def _try_flock(self, fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            return False

    def acquire(
        self,
        run_id: str | None = None,
        trigger: str = "manual",
        wait: bool = False,
        timeout: float | None = None,
        grace: float = 3.0,
        on_wait: Callable[[dict | None], None] | None = None,
        claim: bool = True,
    ) -> dict | None:
        """Take the lock and write this process as its owner.

        ``wait=False`` still retries for ``grace`` seconds (a sweep may hold the lock for a
        moment), then raises :class:`RunLockBusy`; ``wait=True`` waits up to ``timeout``
        seconds (forever when ``None``), calling ``on_wait(owner)`` once when it starts waiting.
        Returns the stale owner (a run that died holding the lock) or ``None``. ``claim=False``
        (the sweep) locks without rewriting the file, so it keeps naming the last real run.
        """
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        start = time.monotonic()
        limit = (timeout if wait else grace)
        announced = False
        while not self._try_flock(fd):
            waited = time.monotonic() - start
            if limit is not None and waited >= limit:
                os.close(fd)
                raise RunLockBusy(self.path, read_owner(self.path))
            if wait and not announced and on_wait is not None:
                on_wait(read_owner(self.path))
                announced = True
            time.sleep(0.5 if waited < 10 else 2.0)
        raw = os.pread(fd, 1 << 16, 0).decode("utf-8", "replace").strip()
        previous = None
        if raw:
            try:
                previous = json.loads(raw)
            except json.JSONDecodeError:
                previous = {"state": "running", "note": f"unreadable lock file content: {raw[:200]!r}"}
        self._fd = fd
        self._claimed = claim
        if not claim:
            self.owner = dict(previous or {})
            return previous if previous and previous.get("state") == "running" else None
        _HELD[str(self.path)] = self
        self.owner = {
            "state": "running",
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "run_id": run_id,
            "trigger": trigger,
            "started_at": dt.datetime.now().isoformat(timespec="seconds"),
            "command": " ".join(sys.argv)[:300],
        }
        self._write(self.owner)
        if previous and previous.get("state") == "running":
            previous["pid_alive"] = previous.get("host") == socket.gethostname() and pid_alive(previous.get("pid"))
            return previous
        return None

    def update(self, **fields) -> None:
        """Change owner fields (for instance the run id, once Dagster has created the run)."""
        if not self.held:
            raise RuntimeError(f"lock {self.path} is not held by this process")
        self.owner.update(fields)
        self._write(self.owner)

    def release(self, **fields) -> None:
        """Mark the lock released (the file keeps the last owner for operators) and unlock.

        An unclaimed lock (the sweep) rewrites the file only when ``fields`` are given."""
        if not self.held:
            return
        try:
            if self._claimed or fields:
                self._write({**self.owner, **fields, "state": "released",
                             "released_at": dt.datetime.now().isoformat(timespec="seconds")})
        finally:
            fd, self._fd = self._fd, None
            if _HELD.get(str(self.path)) is self:
                del _HELD[str(self.path)]
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def _write(self, data: dict) -> None:
        payload = json.dumps(data, ensure_ascii=False, indent=1).encode("utf-8")
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, payload, 0)
        os.fsync(self._fd)

    def __enter__(self) -> RunLock:
        return self

    def __exit__(self, *exc) -> None:
        self.release()
