"""Wall time, CPU time and memory of a command's whole process tree (the benchmark's measuring tape).

:func:`run_measured` starts a command and, while it runs, samples every ``interval`` seconds the
process and all its descendants (psutil): the sum of their resident set sizes (RSS, bytes) and
their cumulative CPU time (user + system, seconds; a process is remembered after it exits, so the
dbt subprocess counts). The samples let the caller attribute CPU and peak memory to time windows
(the job's stages, from Dagster's event log). The exact CPU total of the tree comes from the
kernel (``getrusage(RUSAGE_CHILDREN)`` before and after; includes every waited-for descendant).

RSS sums count pages shared between processes once per process, so the tree's peak is an upper
bound; samples miss peaks shorter than ``interval``.
"""

from __future__ import annotations

import os
import resource
import subprocess
import threading
import time
from bisect import bisect_left
from dataclasses import dataclass, field
from pathlib import Path

import psutil


@dataclass
class Sample:
    t: float  # time.time()
    rss: int  # bytes, sum over the tree
    cpu: float  # seconds, cumulative over every process of the tree seen so far
    procs: int
    spill: int | None = None  # bytes in the watched folder (DuckDB's temp directory), when watched


@dataclass
class Measured:
    """One measured command."""

    cmd: list[str]
    returncode: int
    started: float
    ended: float
    cpu_seconds: float  # exact (kernel), whole tree
    max_rss_single: int  # bytes: the largest single process of the tree (kernel's ru_maxrss), 0 if unknown
    samples: list[Sample] = field(default_factory=list)
    killed: bool = False  # stopped by the memory safety valve
    # CPU seconds of the whole machine (every process, /proc/stat) while the command ran: on a machine the command
    # has alone, what it made busy, also processes its tree started but never waited for (a browser, a JVM, a
    # daemon's run), which the kernel counts in no one's ``cpu_seconds``
    machine_busy_seconds: float | None = None

    @property
    def wall_seconds(self) -> float:
        return self.ended - self.started

    @property
    def cores_busy_share(self) -> float | None:
        """:attr:`machine_busy_seconds` / (wall seconds x logical cores): 1.0 = every core busy the whole time (at
        most 1: the kernel counts CPU time in ticks of 10 ms, which can take a short, busy command a little above)."""
        if self.machine_busy_seconds is None or self.wall_seconds <= 0:
            return None
        return min(1.0, self.machine_busy_seconds / (self.wall_seconds * (os.cpu_count() or 1)))

    @property
    def peak_rss(self) -> int:
        """Peak of the sampled tree RSS (bytes); at least the kernel's single-process maximum."""
        return max([s.rss for s in self.samples] + [self.max_rss_single])

    @property
    def peak_spill(self) -> int | None:
        vals = [s.spill for s in self.samples if s.spill is not None]
        return max(vals) if vals else None

    def cpu_at(self, t: float) -> float:
        """Cumulative sampled CPU seconds at time ``t`` (linear between samples)."""
        s = self.samples
        if not s:
            return 0.0
        i = bisect_left([x.t for x in s], t)
        if i <= 0:
            return s[0].cpu * (t - self.started) / max(s[0].t - self.started, 1e-9) if t > self.started else 0.0
        if i >= len(s):
            return s[-1].cpu
        a, b = s[i - 1], s[i]
        return a.cpu + (b.cpu - a.cpu) * (t - a.t) / max(b.t - a.t, 1e-9)

    def window(self, windows: list[tuple[float, float]]) -> dict:
        """Wall seconds, sampled CPU seconds and peak tree RSS (bytes) over a set of time windows."""
        wall = sum(max(0.0, b - a) for a, b in windows)
        cpu = sum(max(0.0, self.cpu_at(b) - self.cpu_at(a)) for a, b in windows)
        peak = 0
        for a, b in windows:
            inside = [s.rss for s in self.samples if a <= s.t <= b]
            if not inside and self.samples:  # a step shorter than the interval: the nearest sample
                inside = [min(self.samples, key=lambda s: abs(s.t - (a + b) / 2)).rss]
            peak = max([peak, *inside])
        spill = [s.spill for s in self.samples for a, b in windows if a <= s.t <= b and s.spill is not None]
        return {"wall_seconds": round(wall, 3), "cpu_seconds": round(cpu, 3), "peak_rss_bytes": peak,
                "peak_spill_bytes": max(spill) if spill else None}


def folder_bytes(path: Path) -> int:
    """Bytes of the files under ``path`` (0 when missing)."""
    total = 0
    for root, _, files in os.walk(path):
        for f in files:
            try:
                total += os.lstat(os.path.join(root, f)).st_size
            except OSError:
                pass
    return total


class TreeSampler(threading.Thread):
    """Samples a process and its descendants until stopped."""

    def __init__(self, pid: int, interval: float = 0.2, watch: Path | None = None, kill_above: int | None = None):
        super().__init__(daemon=True)
        self.kill_above = kill_above
        self.killed = False
        self.root = psutil.Process(pid)
        self.interval = interval
        self.watch = watch
        self.samples: list[Sample] = []
        self._cpu: dict[tuple[int, float], float] = {}
        self._halt = threading.Event()

    def sample(self) -> None:
        try:
            procs = [self.root, *self.root.children(recursive=True)]
        except psutil.Error:
            return
        rss, n = 0, 0
        for p in procs:
            try:
                with p.oneshot():
                    key = (p.pid, p.create_time())
                    ct = p.cpu_times()
                    self._cpu[key] = ct.user + ct.system
                    rss += p.memory_info().rss
                    n += 1
            except psutil.Error:
                continue
        spill = folder_bytes(self.watch) if self.watch is not None else None
        self.samples.append(Sample(time.time(), rss, sum(self._cpu.values()), n, spill))
        if self.kill_above and rss > self.kill_above and not self.killed:
            # a safety valve on a shared machine: stop the tree before the kernel's OOM killer picks a victim
            self.killed = True
            for p in reversed(procs):
                try:
                    p.kill()
                except psutil.Error:
                    pass

    def run(self) -> None:
        while not self._halt.is_set():
            self.sample()
            self._halt.wait(self.interval)

    def stop(self) -> None:
        self._halt.set()
        self.join()


def run_measured(cmd: list[str], *, env: dict | None = None, cwd: Path | None = None, log: Path | None = None,
                 interval: float = 0.2, watch: Path | None = None, kill_above: int | None = None) -> Measured:
    """Run ``cmd`` to its end (stdout and stderr into ``log``) while sampling its process tree; the tree is
    killed when its memory exceeds ``kill_above`` bytes (``Measured.killed``)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    busy_before = machine_busy()
    out = open(log, "w", encoding="utf-8") if log else subprocess.DEVNULL
    try:
        started = time.time()
        proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
        sampler = TreeSampler(proc.pid, interval, watch, kill_above)
        sampler.start()
        rc = proc.wait()
        ended = time.time()
        sampler.stop()
    finally:
        if log:
            out.close()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    busy = round(machine_busy() - busy_before, 3)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    # ru_maxrss of the children only grows over this process's life: it tells about this command only if it grew
    single = after.ru_maxrss * 1024 if after.ru_maxrss > before.ru_maxrss else 0
    return Measured(cmd, rc, started, ended, round(cpu, 3), single, sampler.samples, sampler.killed, busy)


def machine_busy() -> float:
    """CPU seconds the whole machine has been busy since boot (every core, every process: ``/proc/stat``'s time
    not idle and not waiting for the disk, through psutil)."""
    t = psutil.cpu_times()
    return sum(getattr(t, f) for f in ("user", "nice", "system", "irq", "softirq", "steal") if hasattr(t, f))
