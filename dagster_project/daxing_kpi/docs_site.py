"""The dbt docs site, built offline as one static page and served next to the dashboard.

:func:`build_docs_site` runs ``dbt docs generate --static`` on the working database into a private
target folder, so it never disturbs the manifest the Dagster job reads. dbt writes one
self-contained ``static_index.html`` (manifest and catalog inlined): every table and column of the
project with its English description and its Chinese text (``meta``), the lineage graph and the
tests. The page is made safe for an offline machine (:func:`make_offline`), kept in
``dbt/target/docs_site/index.html`` (:func:`docs_site_path`) and installed as ``<dashboard>/docs/index.html``, which the
dashboard's page header links to. :func:`copy_docs_into` puts the latest page into each new
dashboard version as it is built, so the link never points at nothing.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from daxing_kpi import memory
from daxing_kpi.paths import DBT_PROJECT_DIR, dashboard_dir, warehouse_dir, work_db_path

# The dbt installed beside this Python (the project's virtual environment), else the one on PATH.
_VENV_DBT = os.path.join(os.path.dirname(sys.executable), "dbt")
DBT_EXECUTABLE = _VENV_DBT if os.path.exists(_VENV_DBT) else (shutil.which("dbt") or "dbt")

# dbt-docs turns on Snowplow usage tracking (a script from a CDN) when the manifest says
# send_anonymous_usage_stats; the project turns it off, and the page's tracking function is
# disabled as well, so no setting can make the page call out.
_TRACKING_FUNCTION = "turn_on_tracking:function(){"
_TRACKER_SCRIPT = "//d1fc8wv8zag5ca.cloudfront.net/2.9.0/sp.js"
# What would load something from another machine: a src attribute or assignment (script, img,
# iframe), a <link href>, a CSS @import or url(). Plain links (<a href>) load nothing by themselves.
_EXTERNAL_LOAD = re.compile(
    r"""(?:\bsrc\s*=\s*["']|<link\b[^>]*?\bhref\s*=\s*["']|@import\s+(?:url\()?\s*["']?|url\(\s*["']?)"""
    r"""(?:https?:)?//[^"')\s]+""",
    re.I,
)


class DocsSiteError(RuntimeError):
    """``dbt docs generate`` failed, or its page would load something from the network."""


def docs_site_path() -> Path:
    """The latest built page, ``dbt/target/docs_site/index.html`` (copied into each dashboard version).

    The page describes the dbt project's models and columns, never a warehouse's data, so it is kept once
    per checkout beside dbt's parsed manifest; every warehouse of the checkout copies the same page."""
    return DBT_PROJECT_DIR / "target" / "docs_site" / "index.html"


def external_loads(page: str) -> list[str]:
    """URLs the page would load from another machine (script/link/img sources, CSS imports and urls)."""
    return sorted(set(m.group(0) for m in _EXTERNAL_LOAD.finditer(page)))


def make_offline(page: str) -> str:
    """Disable dbt-docs' usage tracking in ``page``; raise :class:`DocsSiteError` if the page would still
    load anything from the network (a newer dbt may need this function updated)."""
    page = page.replace(_TRACKING_FUNCTION, _TRACKING_FUNCTION + "return;").replace(_TRACKER_SCRIPT, "")
    external = external_loads(page)
    if external:
        raise DocsSiteError(f"the dbt docs page would load from the network: {', '.join(external[:5])}")
    return page


def generate_static_page(target_path: Path) -> Path:
    """Run ``dbt docs generate --static`` against the working database; returns the page it wrote.

    When the project's parsed manifest (``dbt/target/manifest.json``, the one the Dagster job ran) is
    there, it is copied into ``target_path`` and dbt skips compiling every model (``--no-compile``:
    about 5 s instead of 20 s; the site then shows each model's source, not its compiled SQL).
    Raises :class:`DocsSiteError` with dbt's output when dbt fails.
    """
    env = {
        **os.environ,
        "KPI_WORK_DB": str(work_db_path()),
        **memory.subprocess_env(),  # spill folder and DuckDB's share of KPI_MEMORY_LIMIT
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    cmd = [
        DBT_EXECUTABLE, "docs", "generate", "--static", "--target-path", str(target_path),
        "--log-path", str(target_path), "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR),
    ]
    manifest = DBT_PROJECT_DIR / "target" / "manifest.json"
    if manifest.exists():
        shutil.copyfile(manifest, target_path / "manifest.json")
        cmd.append("--no-compile")
    proc = subprocess.run(cmd, cwd=DBT_PROJECT_DIR, env=env, capture_output=True, text=True)
    page = target_path / "static_index.html"
    if proc.returncode != 0 or not page.exists():
        raise DocsSiteError(f"dbt docs generate failed ({proc.returncode}):\n{(proc.stdout + proc.stderr)[-3000:]}")
    return page


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def build_docs_site(dashboard: Path | None = None) -> Path:
    """Build the offline dbt docs page and install it as ``<dashboard>/docs/index.html``; returns that path.

    The page is generated in a private temporary target folder, checked by :func:`make_offline`,
    kept as :func:`docs_site_path` and written into the current dashboard version with a rename.
    Raises :class:`DocsSiteError`.
    """
    work = Path(tempfile.mkdtemp(prefix="dbt-docs-", dir=warehouse_dir()))
    try:
        page = make_offline(generate_static_page(work).read_text(encoding="utf-8"))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    _write_atomically(docs_site_path(), page)
    target = Path(dashboard) if dashboard else dashboard_dir()
    out = target / "docs" / "index.html"
    _write_atomically(out, page)
    return out


def copy_docs_into(folder: Path) -> Path | None:
    """Copy the latest docs page into ``folder/docs/index.html`` (a dashboard version being built).
    Returns the copy, or ``None`` before the first docs build."""
    src = docs_site_path()
    if not src.exists():
        return None
    dst = Path(folder) / "docs" / "index.html"
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dst)
    return dst
