"""Configuration checked before a run starts (issue 19.4): one message naming the setting.

:func:`validate` runs first in every run, ``kpi run`` (before it takes the lock, which lives in the
warehouse folder) and runs the daemon starts (in the run guard), and checks in this order:

1. ``KPI_WAREHOUSE_DIR``: a folder (created if missing) this user can write;
2. the folders under it (``work``, ``landing``, ``logs``, ``failures``, ``history``, ``dagster_home``) and
   ``KPI_DUCKDB_TEMP_DIR``, ``KPI_RAW_PARQUET_DIR`` (a local one), ``KPI_DASHBOARD_DIR``'s parent: folders
   or creatable; those holding personal data (:data:`PERSONAL_DATA_DIRS`: landing files, the working
   database with its quarantine, the raw Parquet layer, DuckDB's spill files) are made owner-only
   (mode ``700``);
3. ``KPI_MEMORY_LIMIT`` (formerly ``KPI_DUCKDB_MEMORY_LIMIT``): a memory size, at least :data:`MIN_MEMORY_BYTES`;
4. ``DAGSTER_HOME`` (when set and not the warehouse's own): an existing folder holding ``dagster.yaml``;
5. ``KPI_RETENTION_DAYS``, ``KPI_RETENTION_RUNS`` (:mod:`daxing_kpi.retention`) and
   ``KPI_SENSOR_QUIET_SECONDS``, ``KPI_SENSOR_INTERVAL_SECONDS``: numbers in range;
6. the person-key secret (:func:`daxing_kpi.personkey.run_key_policy`).

The first problem raises :class:`ConfigError`, whose message is one sentence naming the setting;
:func:`validate` otherwise returns the lines the run prints (which key is used).
"""

from __future__ import annotations

import os
from pathlib import Path

from daxing_kpi import personkey
from daxing_kpi.paths import PROJECT_ROOT

MIN_MEMORY_BYTES = 256 * 2**20
OWNER_ONLY = 0o700


class ConfigError(ValueError):
    """A setting is wrong; ``setting`` names it, the message says what to do (one sentence)."""

    def __init__(self, setting: str, message: str):
        self.setting = setting
        super().__init__(message)


def _warehouse_root() -> Path:
    return Path(os.environ.get("KPI_WAREHOUSE_DIR") or PROJECT_ROOT / "warehouse").expanduser().absolute()


def _usable_folder(path: Path, setting: str, what: str, mode: int | None = None, root: Path | None = None) -> Path:
    """``path`` as a writable folder, or :class:`ConfigError`. With ``mode``, a folder created here or
    lying under ``root`` (the warehouse) gets that mode; an existing folder elsewhere (a shared
    ``/tmp``, say) is left as it is."""
    if path.exists() and not path.is_dir():
        raise ConfigError(setting, f"{setting}: {what} {path} is a file, not a folder: move the file away or point "
                                   f"{setting} at a folder.")
    try:
        created = not path.exists()
        path.mkdir(parents=True, exist_ok=True)
        inside = root is not None and path.resolve().is_relative_to(root.resolve())
        if mode is not None and (created or inside) and path.stat().st_uid == os.geteuid():
            path.chmod(mode)
        probe = path / f".write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise ConfigError(setting, f"{setting}: {what} {path} cannot be created or written ({exc.strerror}): "
                                   f"give the user running the product write access or point {setting} elsewhere.") from exc
    return path


def personal_data_dirs(root: Path) -> dict[str, Path]:
    """The folders that hold personal data, by the setting that places them."""
    from daxing_kpi.raw_parquet import _is_remote

    dirs = {"KPI_WAREHOUSE_DIR (landing)": root / "landing", "KPI_WAREHOUSE_DIR (work)": root / "work"}
    raw = os.environ.get("KPI_RAW_PARQUET_DIR") or ""
    if not _is_remote(raw):
        dirs["KPI_RAW_PARQUET_DIR"] = Path(raw).expanduser().absolute() if raw else root / "raw_parquet"
    dirs["KPI_DUCKDB_TEMP_DIR"] = Path(os.environ.get("KPI_DUCKDB_TEMP_DIR") or root / "tmp").expanduser().absolute()
    return dirs


PERSONAL_DATA_DIRS = ("landing", "work", "raw_parquet", "tmp")


def _memory_limit() -> None:
    """``KPI_MEMORY_LIMIT`` (or its former name ``KPI_DUCKDB_MEMORY_LIMIT``): a size as
    :func:`daxing_kpi.memory.parse_size` reads it, at least :data:`MIN_MEMORY_BYTES`."""
    from daxing_kpi.memory import FORMER_MEMORY_ENV, MEMORY_ENV, parse_size

    for name in (MEMORY_ENV, FORMER_MEMORY_ENV):
        value = os.environ.get(name)
        if value is None or value.strip() == "":
            continue
        try:
            size = parse_size(value)
        except ValueError as exc:
            raise ConfigError(name, f"{name}={value!r} is not a memory size: write for example 4GB, 2GiB or 512MB.") from exc
        if size < MIN_MEMORY_BYTES:
            raise ConfigError(name, f"{name}={value!r} ({size / 2**20:.1f} MiB) is below the 256 MB a run needs: "
                                    "give the job at least 256MB, 2GB or more for the full district.")


def _number(name: str, minimum: float, integer: bool) -> None:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return
    try:
        number = int(value) if integer else float(value)
    except ValueError as exc:
        kind = "a whole number" if integer else "a number"
        raise ConfigError(name, f"{name}={value!r} is not {kind}.") from exc
    if number < minimum:
        raise ConfigError(name, f"{name}={value!r} is below its minimum {minimum:g}.")


def _dagster_home(root: Path) -> None:
    home = os.environ.get("DAGSTER_HOME")
    if not home or Path(home).absolute() == (root / "dagster_home").absolute():
        return
    path = Path(home)
    if not path.is_dir():
        raise ConfigError("DAGSTER_HOME", f"DAGSTER_HOME={home} is not an existing folder: run `kpi dagster-home` and point "
                                          "DAGSTER_HOME at the folder it prints.")
    if not (path / "dagster.yaml").is_file():
        raise ConfigError("DAGSTER_HOME", f"DAGSTER_HOME={home} holds no dagster.yaml: run `kpi dagster-home` and point "
                                          "DAGSTER_HOME at the folder it prints.")


def validate(check_dagster_home: bool = True) -> list[str]:
    """Check the configuration (see the module docstring); returns the lines the run prints.

    Raises :class:`ConfigError` (or :class:`daxing_kpi.personkey.PiiKeyError`, also naming its setting)."""
    root = _warehouse_root()
    _usable_folder(root, "KPI_WAREHOUSE_DIR", "the warehouse folder")
    for sub in ("logs", "failures", "history", "dagster_home"):
        _usable_folder(root / sub, "KPI_WAREHOUSE_DIR", f"its {sub} folder")
    for setting, path in personal_data_dirs(root).items():
        _usable_folder(path, setting.split(" ")[0], "the folder", mode=OWNER_ONLY, root=root)
    dash = os.environ.get("KPI_DASHBOARD_DIR")
    if dash:
        _usable_folder(Path(dash).expanduser().absolute().parent, "KPI_DASHBOARD_DIR", "the parent folder of the dashboard")
    _memory_limit()
    if check_dagster_home:
        _dagster_home(root)
    _number("KPI_RETENTION_DAYS", 1, integer=True)
    _number("KPI_RETENTION_RUNS", 1, integer=True)
    _number("KPI_SENSOR_QUIET_SECONDS", 0, integer=False)
    _number("KPI_SENSOR_INTERVAL_SECONDS", 1, integer=True)
    sample_on_empty = os.environ.get("KPI_SAMPLE_ON_EMPTY", "1") != "0"
    choice = personkey.run_key_policy(root / "landing", sample_on_empty)
    return [choice.describe()]


def setting_of(exc: BaseException) -> str | None:
    """The setting a configuration error names (``None`` for other errors)."""
    return getattr(exc, "setting", None) if isinstance(exc, (ConfigError, personkey.PiiKeyError)) else None
