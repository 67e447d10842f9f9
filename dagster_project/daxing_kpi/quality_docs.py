"""Great Expectations Data Docs of the quality gate, built offline next to the dashboard.

Each Great Expectations check stores its validation result as JSON
(:func:`store_validation`, ``<warehouse>/quality_results/<run_id>/<suite>.json``).
:func:`build_quality_site` renders the latest result of every suite with GX's own Data Docs
site builder into ``<warehouse>/quality_site/`` (``index.html``, one page per validation and per
suite, GX's static CSS and images), swapped in with one rename. Only the suites whose latest result
is newer than the one the kept site shows are rendered again (``rendered.json`` in the site names the
result behind each suite's pages); the pages of the others are copied from the kept site, so a night
that ran a few checks renders a few pages, not all ~110. The dashboard build copies it
into each new dashboard version as ``quality/`` (:func:`copy_quality_site_into`), linked from the
dashboard's header.

GX's page templates load Bootstrap, jQuery, Font Awesome, Vega and bootstrap-table from public
CDNs and a logo from GX's web server, and link to GX's web site. The machine is offline, so
:func:`make_offline` strips every one of them: external ``<script>`` and ``<link>`` elements and
images are removed, links to other sites keep their text only, GX's newsletter footer goes, and a small local stylesheet
(:data:`OFFLINE_CSS`) replaces the layout Bootstrap gave. The pages then reference no external
URL at all (checked: :func:`external_urls`); the tabs of the index show one below the other and
the expectation pages' charts are not drawn (they need Vega), the tables and results are complete.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import tempfile
from pathlib import Path

from daxing_kpi.paths import warehouse_dir

KEEP_RUNS = 10  # run folders of stored validation results kept
SITE_DIR_NAME = "quality"  # folder of the site inside a dashboard version

# Anything that names another machine: http(s) or protocol-relative URLs in attributes, CSS and text.
_EXTERNAL_URL = re.compile(r"""(?:https?:)?//[A-Za-z0-9][-A-Za-z0-9.]*\.[A-Za-z]{2,}[^\s"'<>)]*""")
_SCRIPT_EXT = re.compile(r"""<script\b[^>]*\bsrc\s*=\s*["'](?:https?:)?//[^"']*["'][^>]*>\s*</script>""", re.I | re.S)
_LINK_EXT = re.compile(r"""<link\b[^>]*\bhref\s*=\s*["'](?:https?:)?//[^"']*["'][^>]*/?>""", re.I | re.S)
_IMG_EXT = re.compile(r"""<img\b[^>]*\bsrc\s*=\s*["'](?:https?:)?//[^"']*["'][^>]*/?>""", re.I | re.S)
_A_EXT = re.compile(r"""<a\b[^>]*\bhref\s*=\s*["'](?:https?:)?//[^"']*["'][^>]*>(.*?)</a>""", re.I | re.S)
_ATTR_EXT = re.compile(r"""\s(?:href|src|action|formaction)\s*=\s*["'](?:https?:)?//[^"']*["']""", re.I)
_CSS_IMPORT_EXT = re.compile(r"""@import\s+(?:url\()?\s*["']?(?:https?:)?//[^;]*;""", re.I)

OFFLINE_CSS = """
/* daxing_kpi: offline layout replacing the CDN stylesheets of GX's Data Docs (Bootstrap, bootstrap-table) */
body { font-family: "Noto Sans CJK SC", "Microsoft YaHei", "PingFang SC", sans-serif; margin: 0 1.5rem 2rem; color: #222; }
table { border-collapse: collapse; margin: 0.5rem 0; max-width: 100%; }
th, td { border: 1px solid #ccc; padding: 0.25rem 0.5rem; vertical-align: top; text-align: left; }
th { background: #f0f3f7; }
.container, .container-fluid { max-width: 100%; }
.card { border: 1px solid #ddd; margin: 0.75rem 0; padding: 0.5rem; }
.nav, .navbar { list-style: none; padding: 0; }
.nav-item, .nav-link { display: inline-block; margin-right: 1rem; }
.collapse:not(.show) { display: block; }
.text-danger, .fa-times { color: #b00020; }
.text-success, .fa-check-circle { color: #1b7f3b; }
.daxing-kpi-note { background: #fff8e1; border: 1px solid #e0c36b; padding: 0.5rem 0.75rem; margin: 0.75rem 0; }
"""


class QualitySiteError(RuntimeError):
    """The Data Docs could not be built, or would still reference the network."""


def results_dir() -> Path:
    """``<warehouse>/quality_results``: the stored validation results, one folder per run."""
    return warehouse_dir() / "quality_results"


def site_path() -> Path:
    """``<warehouse>/quality_site``: the latest built site (copied into each dashboard version)."""
    return warehouse_dir() / "quality_site"


def store_validation(run_id: str, asset: str, check_name: str, result_json: dict | None) -> Path | None:
    """Write one GX validation result (``SuiteResult.result_json``) for the Data Docs; returns the file."""
    if not result_json:
        return None
    folder = results_dir() / run_id
    folder.mkdir(parents=True, exist_ok=True)
    suite = result_json.get("suite_name") or f"{asset}_{check_name}"
    payload = {"asset": asset, "check_name": check_name, "run_id": run_id,
               "validated_at": dt.datetime.now().isoformat(timespec="seconds"), "result": result_json}
    path = folder / f"{re.sub(r'[^A-Za-z0-9_.-]', '_', suite)}.json"
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(payload, ensure_ascii=False, default=str), encoding="utf-8")
    os.replace(tmp, path)
    return path


def latest_validations() -> dict[str, dict]:
    """The newest stored result of every suite across the kept runs: ``{suite: payload}``."""
    out: dict[str, dict] = {}
    root = results_dir()
    if not root.exists():
        return out
    for path in root.glob("*/*.json"):
        try:
            payload = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        suite = payload["result"].get("suite_name") or path.stem
        if suite not in out or payload["validated_at"] > out[suite]["validated_at"]:
            out[suite] = payload
    return out


def prune_results(keep: int = KEEP_RUNS) -> list[Path]:
    """Remove stored results of all but the ``keep`` most recently written run folders."""
    root = results_dir()
    if not root.exists():
        return []
    runs = sorted((p for p in root.iterdir() if p.is_dir()), key=lambda p: p.stat().st_mtime, reverse=True)
    removed = runs[keep:]
    for p in removed:
        shutil.rmtree(p, ignore_errors=True)
    return removed


def external_urls(text: str) -> list[str]:
    """Every URL naming another machine in ``text`` (attributes, CSS, scripts and plain text)."""
    return sorted(set(m.group(0) for m in _EXTERNAL_URL.finditer(text)))


def make_offline(html: str) -> str:
    """An HTML page of GX's Data Docs without anything that names another machine (see the module
    docstring), with :data:`OFFLINE_CSS` added to its head."""
    html = _SCRIPT_EXT.sub("", html)
    html = _LINK_EXT.sub("", html)
    html = _IMG_EXT.sub("", html)
    html = _A_EXT.sub(lambda m: f"<span>{m.group(1)}</span>", html)
    html = _ATTR_EXT.sub("", html)
    html = _CSS_IMPORT_EXT.sub("", html)
    html = re.sub(r"<footer\b.*?</footer>", "", html, flags=re.I | re.S)  # GX's newsletter footer (a link to its web site)
    html = _EXTERNAL_URL.sub("", html)  # anything left (inline scripts, text): dropped
    style = f"<style>{OFFLINE_CSS}</style>"
    html = html.replace("</head>", style + "</head>", 1) if "</head>" in html else style + html
    return html


def _drop_unused_static(site: Path) -> None:
    """Remove GX's static files no page references (its fonts and marketing images: ~4 MB per copy)."""
    pages = "\n".join(p.read_text(encoding="utf-8") for p in site.rglob("*.html"))
    static = site / "static"
    if not static.exists():
        return
    for f in sorted(static.rglob("*"), reverse=True):
        if f.is_file() and f.name not in pages:
            f.unlink()
        elif f.is_dir() and not any(f.iterdir()):
            f.rmdir()


def _render(payloads: dict[str, dict], out: Path) -> None:
    """GX's site builder on an ephemeral context holding the stored results."""
    from daxing_kpi.gxload import import_great_expectations

    gx = import_great_expectations()  # pyspark hidden (issue 19.3)
    from great_expectations.core.expectation_validation_result import ExpectationSuiteValidationResultSchema
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )

    ctx = gx.get_context(mode="ephemeral")
    ctx.add_data_docs_site(site_name="daxing_kpi_quality", site_config={
        "class_name": "SiteBuilder",
        "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(out)},
        "show_how_to_buttons": False,
    })
    for suite_name, payload in sorted(payloads.items()):
        raw = json.loads(json.dumps(payload["result"]))
        meta = raw.setdefault("meta", {})
        meta["run_id"] = {"run_name": payload["run_id"], "run_time": payload["validated_at"]}
        # "Data asset" on the page (GX reads it from the batch spec): the Dagster asset and check
        meta.setdefault("batch_spec", {})["data_asset_name"] = f"{payload['asset']} · {payload['check_name']}"
        result = ExpectationSuiteValidationResultSchema().load(raw)
        suite = gx.ExpectationSuite(name=suite_name)
        for r in result.results:
            suite.add_expectation_configuration(r.expectation_config)
        ctx.suites.add(suite)
        stamp = dt.datetime.fromisoformat(payload["validated_at"]).replace(tzinfo=dt.timezone.utc)
        key = ValidationResultIdentifier(
            expectation_suite_identifier=ExpectationSuiteIdentifier(name=suite_name),
            run_id=RunIdentifier(run_name=payload["run_id"], run_time=stamp),
            batch_identifier=payload["asset"].replace("/", "__") + "__" + payload["check_name"],
        )
        ctx.validation_results_store.set(key, result)
    ctx.build_data_docs(site_names=["daxing_kpi_quality"])


def index_page(payloads: dict[str, dict], site: Path) -> str:
    """The site's index: one row per suite (asset, check, status, expectations failed, run, time)
    linking GX's validation page and suite page. GX's own index fills its tables with jQuery and
    bootstrap-table from CDNs, so it is replaced by this static one."""
    import html as h

    rows = []
    order = sorted(payloads.items(), key=lambda kv: (kv[1]["result"].get("success", True), kv[1]["asset"], kv[1]["check_name"]))
    for suite, p in order:
        stats = p["result"].get("statistics") or {}
        ok = bool(p["result"].get("success"))
        pages = sorted((site / "validations" / suite).rglob("*.html"))
        link = pages[-1].relative_to(site).as_posix() if pages else None
        suite_page = f"expectations/{suite}.html" if (site / "expectations" / f"{suite}.html").exists() else None
        name = h.escape(p["check_name"])
        rows.append(
            f'<tr class="{"passed" if ok else "failed"}"><td>{h.escape(p["asset"])}</td>'
            f'<td>{f"<a href={chr(34)}{link}{chr(34)}>{name}</a>" if link else name}</td>'
            f'<td class="{"text-success" if ok else "text-danger"}">{"通过 passed" if ok else "未通过 failed"}</td>'
            f'<td>{stats.get("unsuccessful_expectations", "")} / {stats.get("evaluated_expectations", "")}</td>'
            f'<td>{f"<a href={chr(34)}{suite_page}{chr(34)}>{h.escape(suite)}</a>" if suite_page else h.escape(suite)}</td>'
            f'<td>{h.escape(p["run_id"])}</td><td>{h.escape(p["validated_at"].replace("T", " "))}</td></tr>'
        )
    failed = sum(not p["result"].get("success") for p in payloads.values())
    persons = person_duplicates_section(payloads)
    return f"""<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>数据质量检查 Quality checks (Great Expectations Data Docs)</title>
<link rel="icon" href="static/images/favicon.ico"><style>{OFFLINE_CSS}</style></head>
<body>
<h1>数据质量检查 Quality checks</h1>
<p class="daxing-kpi-note">Great Expectations Data Docs of the latest run of every suite, built offline
{dt.datetime.now():%Y-%m-%d %H:%M}: {len(payloads)} suites, {failed} with failed expectations. Each check validates a
bounded batch (one row per landing file, town/street, source, or the mart kpi_observations). The results of every
check of every run, dbt tests included, are in the published table <code>dq_results</code>; per KPI in
<code>dq_kpi_status</code>.</p>
<table id="quality-suites"><thead><tr><th>资产 Asset</th><th>检查 Check</th><th>结果 Result</th>
<th>未满足期望 Failed expectations</th><th>GX suite</th><th>运行 Run</th><th>检查时间 Validated at</th></tr></thead>
<tbody>
{chr(10).join(rows)}
</tbody></table>
{persons}
{_files_set_aside()}
</body></html>
"""


PERSON_FIGURES_META = "daxing_kpi_person_duplicates"  # = daxing_kpi.checks.PERSON_FIGURES_META (not imported: no GX at import)


def person_duplicates_section(payloads: dict[str, dict]) -> str:
    """The figure of issue 16.1 on the quality page: for each KPI that counts persons, its latest year's persons,
    their active records, the persons standing on several records and their share, and the records without a
    usable ID number (each counted as one person); from the stored result of the check
    ``persons_with_several_active_records_are_few`` (empty before its first run)."""
    import html as h

    payload = next((p for p in payloads.values() if p["check_name"] == "persons_with_several_active_records_are_few"), None)
    figures = ((payload or {}).get("result", {}).get("meta") or {}).get(PERSON_FIGURES_META) or []
    if not figures:
        return ""
    ok = bool(payload["result"].get("success"))
    rows = "\n".join(
        f'<tr><td>{h.escape(f["kpi_id"])}</td><td>{f["period_year"]}{"（截至数据截止日 to the cut-off）" if f["is_partial_year"] else ""}</td>'
        f'<td>{f["persons"]:,}</td><td>{f["records"]:,}</td><td>{f["persons_with_several_records"]:,}</td>'
        f'<td>{f["share"]:.2f}%</td><td>{f["records_without_usable_id"]:,}</td></tr>'
        for f in figures
    )
    return f"""<h2 id="person-duplicates">按人计数：重复登记 Persons counted once</h2>
<p class="daxing-kpi-note">志愿者、养老护理员、社会工作专业人才和社区工作者按人计数：同一身份证号码在统计日有多条有效记录（另一支队伍重复注册、
同时在两家单位登记等）只计1人；身份证号码无法识别的记录各计1人。占比超过一定比例说明来源平台重复登记（提示，不阻止发布）。
Persons are counted once: a person with several active records that day counts once; a record without a usable ID
number counts as one person. {"通过 passed" if ok else "提示 warning"}: see <code>kpi_person_duplicates</code> in the
published database for every year and town/street.</p>
<table id="person-duplicates-table"><thead><tr><th>指标 KPI</th><th>年度 Year</th><th>人数 Persons</th><th>有效记录 Records</th>
<th>多条记录人数 Persons with several records</th><th>占比 Share</th><th>无法识别身份的记录 Records without a usable ID number</th></tr></thead>
<tbody>
{rows}
</tbody></table>"""


def _files_set_aside() -> str:
    """The section listing the landing files set aside by ingestion (issue 15), in Chinese and English."""
    try:
        from daxing_kpi.ingest.report import quality_page_section

        return quality_page_section()
    except Exception:  # noqa: BLE001 - the page is built without the section rather than not at all
        return ""


RENDERED = "rendered.json"  # in the site: suite -> the stored result its pages show (run id and time)


def _stamp(payload: dict) -> str:
    return f"{payload['run_id']}|{payload['validated_at']}"


def _suite_pages(site: Path, suite: str) -> list[Path]:
    """A suite's pages in a built site: its validation folder and its expectation suite page."""
    return [site / "validations" / suite, site / "expectations" / f"{suite}.html"]


def _kept_pages(payloads: dict[str, dict]) -> set[str]:
    """The suites whose pages in the kept site show their latest stored result (nothing when there is no kept
    site or its list of rendered results is unreadable)."""
    site = site_path()
    try:
        rendered = json.loads((site / RENDERED).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return set()
    return {suite for suite, payload in payloads.items()
            if rendered.get(suite) == _stamp(payload) and all(p.exists() for p in _suite_pages(site, suite))}


def _make_offline_files(stage: Path) -> None:
    """Every page GX wrote made offline (:func:`make_offline`), its CSS/JS stripped of external URLs; raises
    :class:`QualitySiteError` when a page would still name another machine."""
    for page in stage.rglob("*"):
        if page.suffix.lower() in (".html", ".css", ".js", ".json") and page.is_file():
            text = page.read_text(encoding="utf-8")
            page.write_text(make_offline(text) if page.suffix.lower() == ".html" else _EXTERNAL_URL.sub("", text), encoding="utf-8")
    leftovers = {str(p.relative_to(stage)): external_urls(p.read_text(encoding="utf-8"))
                 for p in stage.rglob("*") if p.is_file() and p.suffix.lower() in (".html", ".css", ".js")}
    leftovers = {k: v for k, v in leftovers.items() if v}
    if leftovers:
        raise QualitySiteError(f"the quality pages would still reference the network: {leftovers}")


def build_quality_site(dashboard_version: Path | None = None) -> Path:
    """Build the offline Data Docs of the latest stored results into :func:`site_path` (swapped in
    with renames) and, when given, into ``dashboard_version/quality/``. Returns the index page.

    Suites whose latest result the kept site shows already keep their pages (copied); the others are
    rendered by GX. Raises :class:`QualitySiteError` when nothing is stored or a page would still name
    another machine."""
    payloads = latest_validations()
    if not payloads:
        raise QualitySiteError(f"no stored validation results under {results_dir()}")
    for left in warehouse_dir().glob(".quality_site-*"):  # left by a killed run (the job holds the run lock)
        shutil.rmtree(left, ignore_errors=True)
    stage = Path(tempfile.mkdtemp(prefix=".quality_site-", dir=warehouse_dir()))
    target = site_path()
    try:
        kept = _kept_pages(payloads)
        changed = {suite: payload for suite, payload in payloads.items() if suite not in kept}
        if changed:
            _render(changed, stage)
            _make_offline_files(stage)
        elif (target / "static").is_dir():
            shutil.copytree(target / "static", stage / "static")
        for suite in kept:
            for src, dst in zip(_suite_pages(target, suite), _suite_pages(stage, suite)):
                dst.parent.mkdir(parents=True, exist_ok=True)
                (shutil.copytree if src.is_dir() else shutil.copy2)(src, dst)
        _drop_unused_static(stage)
        (stage / "index.html").write_text(index_page(payloads, stage), encoding="utf-8")
        (stage / RENDERED).write_text(json.dumps({suite: _stamp(p) for suite, p in sorted(payloads.items())}, indent=1),
                                      encoding="utf-8")
        old = target.with_name(target.name + ".old")
        shutil.rmtree(old, ignore_errors=True)
        if target.exists():
            os.replace(target, old)
        os.replace(stage, target)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    if dashboard_version is not None:
        copy_quality_site_into(dashboard_version)
    prune_results()
    return target / "index.html"


def copy_quality_site_into(folder: Path) -> Path | None:
    """Copy the latest built site into ``folder/quality/`` (a dashboard version being built).
    Returns the copied index page, or ``None`` before the first build."""
    src = site_path()
    if not (src / "index.html").exists():
        return None
    dst = Path(folder) / SITE_DIR_NAME
    tmp = dst.with_name(f".{dst.name}.{os.getpid()}.tmp")
    old = dst.with_name(f".{dst.name}.{os.getpid()}.old")
    for p in [*Path(folder).glob(f".{dst.name}.*.tmp"), *Path(folder).glob(f".{dst.name}.*.old")]:  # a killed run's
        shutil.rmtree(p, ignore_errors=True)
    shutil.copytree(src, tmp, ignore=shutil.ignore_patterns(RENDERED))
    if dst.exists():  # a live dashboard version: the old site is moved aside, the new one renamed in
        os.replace(dst, old)
    os.replace(tmp, dst)
    shutil.rmtree(old, ignore_errors=True)
    return dst / "index.html"
