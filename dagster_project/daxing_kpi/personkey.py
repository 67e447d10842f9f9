"""The secret key of person keys (HMAC-SHA256 of ID numbers), one place for how it is obtained and
when a run may use the development key (issue 19.2).

Ingestion replaces every ID number by ``HMAC-SHA256(key, normalised number)`` (the ``person_key``
columns), so the key decides whether a person key can be linked back to a number: ID numbers have
little entropy, and with a known key a person key is reversed by trying every number. The key is
therefore a secret of at least :data:`MIN_KEY_BYTES` bytes, given by one of

* ``KPI_PII_KEY``: the key itself (its UTF-8 bytes);
* ``KPI_PII_KEY_FILE``: a file holding the key (its bytes, one trailing newline ignored), owned by the
  user running the product and readable by nobody else (mode ``600`` or ``400``).

Setting both is refused (which one is meant?). :func:`pii_key` returns the configured key and raises
:class:`PiiKeyError` for a key that is empty, too short or unreadable; without any key it returns the
public development key :data:`DEV_PII_KEY`, which only the bundled sample may use: a run checks
:func:`run_key_policy` before it starts and refuses to load anything else without a key.

The bundled sample is recognised by its marker :data:`SAMPLE_MARKER` in the landing folder, written by
:func:`mark_bundled_sample` when the product's sample generator fills an empty landing folder: it lists
every file the generator wrote with its SHA-256. The landing folder is the bundled sample while it holds
exactly those files, unchanged; one file added, changed or removed makes it real data.

:func:`key_fingerprint` names a key without revealing it (an HMAC of a fixed text): the working database
records the fingerprint of the key its person keys were made with, so a changed key (rotation) is seen
and the working database rebuilt (:mod:`daxing_kpi.selfheal`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path

DEV_PII_KEY = "DEVELOPMENT-ONLY-KEY--set-KPI_PII_KEY-in-production"
KEY_ENV = "KPI_PII_KEY"
KEY_FILE_ENV = "KPI_PII_KEY_FILE"
MIN_KEY_BYTES = 32
SAMPLE_MARKER = ".bundled-sample.json"
MAKE_KEY_HINT = "make one with `head -c 32 /dev/urandom | base64 > key && chmod 600 key`"


class PiiKeyError(ValueError):
    """The person-key secret is missing, too short or unsafe; the message names the setting."""

    def __init__(self, setting: str, message: str):
        self.setting = setting
        super().__init__(message)


@dataclass(frozen=True)
class KeyChoice:
    """Which key a run uses: ``source`` is ``KPI_PII_KEY``, ``KPI_PII_KEY_FILE`` or ``development``."""

    key: bytes
    source: str
    detail: str

    @property
    def is_development(self) -> bool:
        return self.source == "development"

    def describe(self) -> str:
        """One line for the run output."""
        if self.is_development:
            return ("Person keys: the bundled sample's DEVELOPMENT key is used (it is public and protects nothing): "
                    f"before loading real files set {KEY_ENV} or {KEY_FILE_ENV} to a secret of at least {MIN_KEY_BYTES} bytes.")
        return f"Person keys: secret from {self.detail} (fingerprint {key_fingerprint(self.key)})."


def _check_length(key: bytes, setting: str, where: str) -> bytes:
    if not key:
        raise PiiKeyError(setting, f"{setting} is set but {where} is empty: the person-key secret must be at least "
                                   f"{MIN_KEY_BYTES} bytes ({MAKE_KEY_HINT}).")
    if len(key) < MIN_KEY_BYTES:
        raise PiiKeyError(setting, f"{setting}: the person-key secret in {where} is {len(key)} bytes, fewer than the "
                                   f"{MIN_KEY_BYTES} required ({MAKE_KEY_HINT}).")
    return key


def _read_key_file(name: str) -> bytes:
    path = Path(name).expanduser()
    try:
        st = path.stat()
    except OSError as exc:
        raise PiiKeyError(KEY_FILE_ENV, f"{KEY_FILE_ENV}={name}: the key file cannot be read ({exc.strerror}).") from exc
    if not stat.S_ISREG(st.st_mode):
        raise PiiKeyError(KEY_FILE_ENV, f"{KEY_FILE_ENV}={name} is not a regular file.")
    if st.st_uid != os.geteuid():
        raise PiiKeyError(KEY_FILE_ENV, f"{KEY_FILE_ENV}={name} belongs to user id {st.st_uid}, not to the user running "
                                        f"the product (id {os.geteuid()}): chown it to that user.")
    if st.st_mode & 0o077:
        raise PiiKeyError(KEY_FILE_ENV, f"{KEY_FILE_ENV}={name} can be read by other users (mode "
                                        f"{stat.S_IMODE(st.st_mode):03o}): run `chmod 600 {name}`.")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise PiiKeyError(KEY_FILE_ENV, f"{KEY_FILE_ENV}={name}: the key file cannot be read ({exc.strerror}).") from exc
    if data.endswith(b"\r\n"):
        data = data[:-2]
    elif data.endswith(b"\n"):
        data = data[:-1]
    return _check_length(data, KEY_FILE_ENV, f"the file {name}")


def configured_key() -> KeyChoice | None:
    """The key set by ``KPI_PII_KEY`` or ``KPI_PII_KEY_FILE``, checked; ``None`` when neither is set.

    Raises :class:`PiiKeyError`: both set, empty, shorter than :data:`MIN_KEY_BYTES`, key file missing,
    not owned by this user or readable by others."""
    value, file_name = os.environ.get(KEY_ENV), os.environ.get(KEY_FILE_ENV)
    if value is not None and file_name is not None:
        raise PiiKeyError(KEY_ENV, f"both {KEY_ENV} and {KEY_FILE_ENV} are set: set only one of them.")
    if file_name is not None:
        if not file_name.strip():
            raise PiiKeyError(KEY_FILE_ENV, f"{KEY_FILE_ENV} is set but empty: give the path of the key file.")
        return KeyChoice(_read_key_file(file_name), KEY_FILE_ENV, f"{KEY_FILE_ENV}={file_name}")
    if value is not None:
        return KeyChoice(_check_length(value.encode("utf-8"), KEY_ENV, "its value"), KEY_ENV, KEY_ENV)
    return None


def pii_key() -> bytes:
    """The HMAC key for person keys: the configured secret (see the module docstring), else the
    public development key. Raises :class:`PiiKeyError` for a configured key that is unsafe. Whether
    a run may go on with the development key is :func:`run_key_policy`'s decision, taken at its start."""
    choice = configured_key()
    return choice.key if choice is not None else DEV_PII_KEY.encode("utf-8")


def key_fingerprint(key: bytes) -> str:
    """16 hex characters naming ``key`` without revealing it (HMAC of a fixed text)."""
    return hmac.new(key, b"daxing-kpi person-key fingerprint", hashlib.sha256).hexdigest()[:16]


# -- the bundled sample -----------------------------------------------------------------------------


def _data_files(landing: Path) -> list[Path]:
    """Every file under the landing folder except the sample marker."""
    if not landing.exists():
        return []
    return sorted(p for p in landing.rglob("*") if p.is_file() and p.name != SAMPLE_MARKER)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def mark_bundled_sample(landing: Path, generator: str) -> Path:
    """Record the files of ``landing`` as the bundled sample written by ``generator`` (call right after
    the product's sample generator filled an empty landing folder). Returns the marker's path."""
    landing = Path(landing)
    files = {p.relative_to(landing).as_posix(): _sha256(p) for p in _data_files(landing)}
    marker = landing / SAMPLE_MARKER
    tmp = marker.with_name(marker.name + ".tmp")
    tmp.write_text(json.dumps({"generator": generator, "files": files}, ensure_ascii=False, indent=1), encoding="utf-8")
    os.replace(tmp, marker)
    return marker


def sample_differences(landing: Path) -> list[str] | None:
    """``None`` when ``landing`` holds no sample marker; else the files that differ from what the sample
    generator wrote (added, changed or removed; empty list: it is exactly the bundled sample)."""
    landing = Path(landing)
    marker = landing / SAMPLE_MARKER
    if not marker.exists():
        return None
    try:
        listed = json.loads(marker.read_text(encoding="utf-8"))["files"]
    except (OSError, ValueError, KeyError, TypeError):
        return [f"{SAMPLE_MARKER} (unreadable)"]
    present = {p.relative_to(landing).as_posix(): p for p in _data_files(landing)}
    diffs = [f"{n} (added)" for n in sorted(set(present) - set(listed))]
    diffs += [f"{n} (removed)" for n in sorted(set(listed) - set(present))]
    diffs += [f"{n} (changed)" for n in sorted(set(present) & set(listed)) if _sha256(present[n]) != listed[n]]
    return diffs


def run_key_policy(landing: Path, sample_on_empty: bool) -> KeyChoice:
    """The key a run uses, or :class:`PiiKeyError` when it must not start.

    A configured key is always used (and checked). Without one, the development key is allowed only
    for the bundled sample: an empty landing folder that the run will fill with the sample
    (``sample_on_empty``), or a landing folder holding exactly the files the sample generator wrote."""
    choice = configured_key()
    if choice is not None:
        return choice
    landing = Path(landing)
    files = _data_files(landing)
    dev = KeyChoice(DEV_PII_KEY.encode("utf-8"), "development", "the bundled sample")
    if not files and sample_on_empty:
        return dev
    diffs = sample_differences(landing)
    if diffs == []:
        return dev
    if diffs is None:
        why = f"the landing folder {landing} holds {len(files)} files that are not the bundled sample"
    else:
        shown = ", ".join(diffs[:3]) + (f" and {len(diffs) - 3} more" if len(diffs) > 3 else "")
        why = f"the landing folder {landing} is no longer the bundled sample ({shown})"
    raise PiiKeyError(KEY_ENV, f"no person-key secret is set ({KEY_ENV} or {KEY_FILE_ENV}) and {why}: real ID numbers "
                               f"must not be hashed with the public development key; set {KEY_FILE_ENV} to a file "
                               f"holding a secret of at least {MIN_KEY_BYTES} bytes ({MAKE_KEY_HINT}).")
