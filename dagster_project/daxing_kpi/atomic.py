"""Atomic replacement of published folders, stale-file cleanup and fault points for crash tests.

A published folder (the dashboard, ``dashboards/build``) is a symbolic link to a version
folder beside it (``dashboards/.build.versions/<stamp>_<version>/``). :func:`staged_folder`
builds the next version in a fresh staging folder and switches the link with one
``os.replace``: a browser or web server resolving ``dashboards/build/index.html`` gets the whole
previous version or the whole new one, never a mix. The stable path stays
``dashboards/build/index.html``. The previous version is kept (a page may still be loading
from it); older versions and staging folders left by a killed run are removed.

The analyst database is replaced the same way, as one file (see
:func:`daxing_kpi.warehouse.publish`).
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

KEEP_VERSIONS = 2  # the current version and the one before it
STAGING_SUFFIX = ".staging"
FAULT_HOLD_ENV = "KPI_FAULT_HOLD"


def hold_point(name: str) -> None:
    """Fault-injection point for the crash tests; does nothing unless ``$KPI_FAULT_HOLD`` names it.

    When ``$KPI_FAULT_HOLD`` equals ``name`` (for example ``publish:before-replace``), writes the
    marker file ``<warehouse>/.hold-<name>`` (``:`` replaced by ``-``) and sleeps up to
    ``$KPI_FAULT_HOLD_SECONDS`` (default 600), so a test can kill the process at exactly
    this point. Never set in production.
    """
    if os.environ.get(FAULT_HOLD_ENV) != name:
        return
    from daxing_kpi.paths import warehouse_dir

    marker = warehouse_dir() / f".hold-{name.replace(':', '-')}"
    marker.write_text(str(os.getpid()), encoding="utf-8")
    time.sleep(float(os.environ.get("KPI_FAULT_HOLD_SECONDS", "600")))


def versions_dir(target: Path) -> Path:
    """Folder holding the versions of the published folder ``target`` (``.<name>.versions`` beside it)."""
    target = Path(target)
    return target.parent / f".{target.name}.versions"


def current_version(target: Path) -> Path | None:
    """The version folder ``target`` points to, or ``None`` when it is not a version link."""
    target = Path(target)
    if not target.is_symlink():
        return None
    return (target.parent / os.readlink(target)).resolve()


@contextmanager
def staged_folder(target: Path, version: str) -> Iterator[Path]:
    """Build a new version of folder ``target`` and publish it with one rename.

    Yields an empty staging folder; when the ``with`` body returns, the staging folder becomes
    ``.<name>.versions/<stamp>_<version>`` and ``target`` is switched to it by replacing the
    link with ``os.replace``. If the body raises, the staging folder is removed and ``target``
    is untouched. A ``target`` that is still a plain folder (the layout before versioned
    publication) is moved into the versions folder first; that one-time move is the only
    moment ``target`` is briefly missing.
    """
    target = Path(target)
    versions = versions_dir(target)
    versions.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now().strftime("%Y%m%dT%H%M%S%f")
    name = f"{stamp}_{version}"
    staging = versions / (name + STAGING_SUFFIX)
    staging.mkdir()
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    final = versions / name
    os.replace(staging, final)
    hold_point("folder:before-switch")
    switch_link(target, final)
    prune_versions(target)


def switch_link(target: Path, version_folder: Path) -> None:
    """Point ``target`` at ``version_folder`` (a relative link) in one ``os.replace``."""
    target = Path(target)
    if target.is_dir() and not target.is_symlink():
        # one-time migration of a plain folder: drop it when empty, else keep it as the oldest version
        if any(target.iterdir()):
            os.replace(target, versions_dir(target) / f"00000000T000000000000_legacy-{os.getpid()}")
        else:
            target.rmdir()
    link_tmp = target.parent / f".{target.name}.link-{os.getpid()}"
    if link_tmp.is_symlink() or link_tmp.exists():
        link_tmp.unlink()
    os.symlink(os.path.relpath(version_folder, target.parent), link_tmp)
    os.replace(link_tmp, target)


def prune_versions(target: Path, keep: int = KEEP_VERSIONS) -> list[Path]:
    """Remove staging folders left by killed runs and versions older than the ``keep`` newest.

    The version ``target`` points to is never removed. Returns the removed paths. Call it
    only while holding the run lock (a staging folder may belong to a running build).
    """
    target = Path(target)
    versions = versions_dir(target)
    if not versions.exists():
        return []
    current = current_version(target)
    removed = []
    for p in versions.iterdir():
        if p.name.endswith(STAGING_SUFFIX):
            shutil.rmtree(p, ignore_errors=True)
            removed.append(p)
    finished = sorted((p for p in versions.iterdir() if p.is_dir()), key=lambda p: p.name, reverse=True)
    keep_set = set(finished[:keep]) | ({current} if current else set())
    for p in finished:
        if p not in keep_set:
            shutil.rmtree(p, ignore_errors=True)
            removed.append(p)
    for p in target.parent.glob(f".{target.name}.link-*"):
        p.unlink(missing_ok=True)
        removed.append(p)
    return removed
