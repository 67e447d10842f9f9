#!/usr/bin/env python
"""Write the tables of the guides in docs/ from the files that define the facts, so they cannot drift.

Each table sits between two marker comments in a guide:

    <!-- generated: NAME (scripts/docs_tables.py) -->
    ...
    <!-- end generated: NAME -->

and is rewritten from:

* ``seeds/kpi_catalog.csv`` (KPI definitions), ``seeds/plans.csv`` and ``seeds/plan_targets.csv`` (the
  bundled plans' targets), the KPI models in ``dbt/models/intermediate/`` (which KPIs count persons);
* ``dagster_project/daxing_kpi/contracts/*.yaml`` (the sources: landing folder, grain, key, re-delivery);
* the dbt yml of ``dbt/models/marts/`` (published tables and columns) and ``dbt/macros/_progress_macros.yml``
  (the SQL macros published with them).

    .venv/bin/python scripts/docs_tables.py           rewrite the tables
    .venv/bin/python scripts/docs_tables.py --check   exit 1 and name the stale tables (tests/test_docs.py)

Only the standard library, PyYAML and the csv module: no warehouse is needed.
"""

from __future__ import annotations

import argparse
import functools
import csv
import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
SEEDS = ROOT / "seeds"
CONTRACTS = ROOT / "dagster_project" / "daxing_kpi" / "contracts"
MARTS = ROOT / "dbt" / "models" / "marts"
INTERMEDIATE = ROOT / "dbt" / "models" / "intermediate"
MACROS_YML = ROOT / "dbt" / "macros" / "_progress_macros.yml"
COMMAND = ".venv/bin/python scripts/docs_tables.py"

BEGIN = re.compile(r"<!-- generated: (?P<name>[\w-]+) \(scripts/docs_tables\.py\) -->\n")
END = "<!-- end generated: {name} -->"

# Intermediate models that count persons once (distinct person_key on the snapshot date).
PERSON_MODELS = ("int_care_workers_employed_by_year", "int_community_workers_employed_by_year",
                 "int_social_work_professionals_employed_by_year", "int_volunteers_active_by_year")

# Reading order of the published tables; any table not listed follows in name order.
TABLE_ORDER = ("kpi_catalog", "kpi_observations", "kpi_long", "kpi_scorecard", "plans", "plan_sections",
               "plan_targets", "plan_target_milestones", "geographies", "kpi_person_duplicates",
               "review_explanations", "dq_kpi_status", "dq_results", "source_freshness", "ingest_audit",
               "pipeline_runs", "publish_metadata", "data_dictionary")

UNIT_EN = {"pct": "%", "count": "count", "per_10k": "per 10,000"}
KIND_EN = {"reach_by_year": "reach by the year", "hold_every_year": "hold every year", "range": "range",
           "direction_only": "direction only"}
KIND_ZH = {"reach_by_year": "到目标年达到", "hold_every_year": "每年达到", "range": "区间", "direction_only": "只有方向"}
BASIS_EN = {"stock": "stock at year end", "new_in_period": "added within the plan period", "": ""}
BASIS_ZH = {"stock": "年末存量", "new_in_period": "规划期新增", "": ""}
DIRECTION_EN = {"increase": "higher is better", "decrease": "lower is better"}


# -- reading the sources of the facts ---------------------------------------------------------------------


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


DOC_BLOCKS_DIR = ROOT / "dbt" / "models" / "docs"


@functools.cache
def doc_blocks() -> dict[str, str]:
    """dbt doc blocks (``{% docs name %}...{% enddocs %}``) of dbt/models/docs/, by name."""
    out = {}
    for md in sorted(DOC_BLOCKS_DIR.glob("*.md")):
        for m in re.finditer(r"{%\s*docs\s+(\w+)\s*%}(.*?){%\s*enddocs\s*%}", md.read_text(encoding="utf-8"), re.S):
            out[m.group(1)] = m.group(2).strip()
    return out


def without_history(text: str) -> str:
    """Descriptions for readers: dbt doc references expanded, references to the project's issue numbers
    dropped, lines folded."""
    blocks = doc_blocks()
    text = re.sub(r"{{\s*doc\(['\"](\w+)['\"]\)\s*}}", lambda m: blocks.get(m.group(1), m.group(0)), text or "")
    text = re.sub(r"\s*\(issue [\d.,; ]+\)", "", text)
    text = re.sub(r"\s*\bissue \d+(\.\d+)?:?\s*", " ", text)
    return " ".join(text.split())


def cell(text) -> str:
    """Text safe inside a Markdown table cell."""
    return without_history(str(text if text is not None else "")).replace("|", "\\|")


def grain(text: str) -> str:
    """The first clause of a table's description: what one row is ("One row per KPI, year and geography")."""
    text = without_history(text)
    depth = 0
    for i, ch in enumerate(text):
        depth += ch in "(（"
        depth -= ch in ")）"
        if depth == 0 and (text[i:i + 2] in (": ", ". ") or (ch == "." and i == len(text) - 1)):
            return text[:i]
    return text


def kpi_model(kpi_id: str) -> Path | None:
    name = "int_kpi_" + kpi_id.replace(".", "__") + ".sql"
    hits = sorted(INTERMEDIATE.rglob(name))
    return hits[0] if hits else None


def counts_persons(kpi_id: str) -> bool:
    model = kpi_model(kpi_id)
    if model is None:
        return False
    sql = model.read_text(encoding="utf-8")
    return any(f"ref('{m}')" in sql or f'ref("{m}")' in sql for m in PERSON_MODELS)


def contracts() -> list[dict]:
    out = []
    for path in sorted(CONTRACTS.glob("*.yaml")):
        spec = yaml.safe_load(path.read_text(encoding="utf-8"))
        spec["_file"] = path.name
        out.append(spec)
    return out


def published_tables() -> dict[str, dict]:
    """Published table name -> {name_zh, description, columns: [(name, label_zh, description)]}: every model of
    dbt/models/marts (under its alias) and every table of the ``publication`` source."""
    aliases = {}
    for sql in MARTS.glob("*.sql"):
        m = re.search(r"config\([^)]*alias\s*=\s*['\"](\w+)['\"]", sql.read_text(encoding="utf-8"))
        aliases[sql.stem] = m.group(1) if m else sql.stem
    tables: dict[str, dict] = {}

    def add(name: str, node: dict) -> None:
        meta = (node.get("config") or {}).get("meta") or node.get("meta") or {}
        cols = []
        for c in node.get("columns") or []:
            cmeta = (c.get("config") or {}).get("meta") or c.get("meta") or {}
            cols.append((c["name"], cmeta.get("label_zh") or "", c.get("description") or ""))
        tables[name] = {"name_zh": meta.get("name_zh") or "", "description": node.get("description") or "",
                        "columns": cols}

    for yml in sorted(MARTS.glob("*.yml")):
        spec = yaml.safe_load(yml.read_text(encoding="utf-8")) or {}
        for model in spec.get("models") or []:
            if model["name"] in aliases:
                add(aliases[model["name"]], model)
        for source in spec.get("sources") or []:
            if source.get("name") == "publication":
                for t in source.get("tables") or []:
                    add(t.get("identifier") or t["name"], t)
    order = {name: i for i, name in enumerate(TABLE_ORDER)}
    return dict(sorted(tables.items(), key=lambda kv: (order.get(kv[0], len(order)), kv[0])))


def number(text: str) -> str:
    if text in ("", None):
        return ""
    v = float(text)
    return f"{v:,.0f}" if v == int(v) else f"{v:g}"


def target_text(t: dict, unit: str, zh: bool = False) -> str:
    kind = t["target_kind"]
    value, upper = number(t["target_value"]), number(t["target_value_upper"])
    suffix = "%" if unit == "pct" else ""
    if kind == "direction_only":
        return "只有方向（无量化目标）" if zh else "direction only (no number)"
    if kind == "range":
        return f"{value}{suffix}–{upper}{suffix}"
    comparator = {">=": "≥", "<=": "≤"}.get(t["comparator"], t["comparator"])
    text = f"{comparator} {value}{suffix}"
    if kind == "hold_every_year":
        text += "（每年）" if zh else " every year"
    return text


# -- the tables -----------------------------------------------------------------------------------------


def table_kpis() -> str:
    catalog = read_csv(SEEDS / "kpi_catalog.csv")
    rows = ["| KPI | unit | direction | how it is computed | model | sources |", "|---|---|---|---|---|---|"]
    for k in catalog:
        model = kpi_model(k["kpi_id"])
        notes = []
        if counts_persons(k["kpi_id"]):
            notes.append("persons counted once")
        if k["is_per_person"] == "true":
            notes.append("small town/street counts hidden on the dashboard")
        if k["has_town_street"] != "true":
            notes.append("district only")
        definition = k["definition_en"] + (f" *({'; '.join(notes)})*" if notes else "")
        rows.append(
            f"| {cell(k['name_en'])}<br>{cell(k['name_zh'])}<br>`{k['kpi_id']}` | {cell(UNIT_EN.get(k['unit'], k['unit']))} "
            f"| {DIRECTION_EN.get(k['direction'], k['direction'])} | {cell(definition)} "
            f"| `{model.stem if model else '(missing)'}` | {', '.join(f'`{s}`' for s in k['sources'].split(';') if s)} |"
        )
    return "\n".join(rows)


def table_kpis_zh() -> str:
    catalog = read_csv(SEEDS / "kpi_catalog.csv")
    rows = ["| 指标 | 单位 | 统计口径 |", "|---|---|---|"]
    for k in catalog:
        rows.append(f"| {cell(k['name_zh'])} | {cell(k['unit_zh'])} | {cell(k['definition_zh'])} |")
    return "\n".join(rows)


def _targets_by_plan() -> list[tuple[dict, list[dict]]]:
    plans = read_csv(SEEDS / "plans.csv")
    targets = read_csv(SEEDS / "plan_targets.csv")
    return [(p, [t for t in targets if t["plan_id"] == p["plan_id"]]) for p in plans]


def table_plan_targets() -> str:
    catalog = {k["kpi_id"]: k for k in read_csv(SEEDS / "kpi_catalog.csv")}
    out = []
    for plan, targets in _targets_by_plan():
        out.append(f"**{cell(plan['name_en'])}** (`{plan['plan_id']}`, {plan['period_start_year']}-"
                   f"{plan['period_end_year']}, baseline {plan['baseline_year']}): {len(targets)} targets.\n")
        out.append("| section | KPI | kind | target | year | a count target counts |")
        out.append("|---|---|---|---|---|---|")
        for t in targets:
            k = catalog.get(t["kpi_id"], {})
            name = f"{cell(k.get('name_en', ''))} (`{t['kpi_id']}`)" if t["kpi_id"] else f"{cell(t['indicator_name_zh'])} (not yet measurable)"
            out.append(f"| {cell(t['plan_section'])} | {name} | {KIND_EN.get(t['target_kind'], t['target_kind'])} "
                       f"| {cell(target_text(t, k.get('unit', '')))} | {t['target_year']} | {BASIS_EN.get(t['count_basis'], t['count_basis'])} |")
        out.append("")
    return "\n".join(out).rstrip()


def table_plan_targets_zh() -> str:
    catalog = {k["kpi_id"]: k for k in read_csv(SEEDS / "kpi_catalog.csv")}
    out = []
    for plan, targets in _targets_by_plan():
        out.append(f"**{cell(plan['name_zh'])}**（{plan['period_start_year']}—{plan['period_end_year']}年，"
                   f"基期{plan['baseline_year']}年），共 {len(targets)} 项目标。\n")
        out.append("| 规划条目 | 指标 | 目标 | 目标年份 | 计数口径 | 规划原文 |")
        out.append("|---|---|---|---|---|---|")
        for t in targets:
            k = catalog.get(t["kpi_id"], {})
            name = cell(k.get("name_zh", "")) if t["kpi_id"] else f"{cell(t['indicator_name_zh'])}（待建指标）"
            unit = "" if k.get("unit") == "pct" else k.get("unit_zh", "")
            target = target_text(t, k.get("unit", ""), zh=True)
            if unit and t["target_kind"] != "direction_only":
                target += f" {unit}"
            out.append(f"| {cell(t['plan_section'])} | {name} | {cell(target)} | {t['target_year']} "
                       f"| {BASIS_ZH.get(t['count_basis'], t['count_basis'])} | {cell(t['source_clause_zh'])} |")
        out.append("")
    return "\n".join(out).rstrip()


def _redelivery(spec: dict) -> str:
    scope = spec.get("delivery_scope")
    if scope is None:
        return "files add up: send only records not sent before"
    if not scope:
        return "each file is complete: the latest replaces the earlier ones"
    return "a later file replaces earlier rows of the same " + ", ".join(f"`{s}`" for s in scope)


def table_sources() -> str:
    rows = ["| landing folder | source (contract) | what one row is | a record needs | a new file | every town/street |",
            "|---|---|---|---|---|---|"]
    for spec in sorted(contracts(), key=lambda s: (s["landing_dir"], s["source_id"])):
        needs = ", ".join(f"`{c}`" for c in spec.get("record_needs") or [])
        rows.append(
            f"| `landing/{spec['landing_dir']}/` | {cell(spec['title_zh'])}<br>{cell(spec['title_en'])}<br>"
            f"[`{spec['_file']}`](../dagster_project/daxing_kpi/contracts/{spec['_file']}) | {cell(spec['grain'])} "
            f"| {needs} | {_redelivery(spec)} | {'required' if spec.get('coverage') == 'every_town_street' else ''} |"
        )
    return "\n".join(rows)


def table_published() -> str:
    rows = ["| table | 中文名 | one row per |", "|---|---|---|"]
    for name, t in published_tables().items():
        rows.append(f"| [`{name}`](#table-{name.replace('_', '-')}) | {cell(t['name_zh'])} | {cell(grain(t['description']))} |")
    return "\n".join(rows)


def table_columns() -> str:
    out = []
    for name, t in published_tables().items():
        out.append(f'<a id="table-{name.replace("_", "-")}"></a>')
        out.append(f"#### `{name}` ({cell(t['name_zh'])})\n")
        out.append(cell(t["description"]) + "\n")
        out.append("<details><summary>" + f"{len(t['columns'])} columns</summary>\n")
        out.append("| column | 中文 | meaning |")
        out.append("|---|---|---|")
        for col, label, desc in t["columns"]:
            out.append(f"| `{col}` | {cell(label)} | {cell(desc)} |")
        out.append("\n</details>\n")
    return "\n".join(out).rstrip()


def table_macros() -> str:
    spec = yaml.safe_load(MACROS_YML.read_text(encoding="utf-8"))
    rows = ["| function | arguments | returns |", "|---|---|---|"]
    args_of: dict[str, str] = {}
    for m in spec.get("macros") or []:
        if not m["name"].startswith(("progress_", "target_")):
            continue
        desc = without_history(m.get("description") or "")
        args = ", ".join(a["name"] for a in m.get("arguments") or [])
        same = re.search(r"\s*Arguments of (\w+)\.?", desc)
        listed = re.search(r"\s*Arguments \(([^)]*)\)\.?", desc)
        if not args and same:
            args = args_of.get(same.group(1), "")
            desc = desc.replace(same.group(0), "")
        elif not args and listed:
            args = listed.group(1)
            desc = desc.replace(listed.group(0), "")
        args_of[m["name"]] = args
        rows.append(f"| `{m['name']}` | {cell(args)} | {cell(desc)} |")
    return "\n".join(rows)


BLOCKS = {
    "methodology.md": {"kpis": table_kpis, "plan-targets": table_plan_targets},
    "planners.zh.md": {"kpis-zh": table_kpis_zh, "plan-targets-zh": table_plan_targets_zh},
    "operators.md": {"sources": table_sources},
    "analysts.md": {"published-tables": table_published, "published-columns": table_columns,
                    "progress-macros": table_macros},
}


# -- writing --------------------------------------------------------------------------------------------


def render(text: str, blocks: dict) -> tuple[str, list[str]]:
    """``text`` with every generated block replaced; also the names of blocks that were missing."""
    missing = []
    for name, make in blocks.items():
        begin = f"<!-- generated: {name} (scripts/docs_tables.py) -->\n"
        end = END.format(name=name)
        i = text.find(begin)
        j = text.find(end, i + 1) if i >= 0 else -1
        if i < 0 or j < 0:
            missing.append(name)
            continue
        body = f"<!-- Do not edit: written by {COMMAND} from the catalog, contracts and dbt yml. -->\n\n{make()}\n\n"
        text = text[: i + len(begin)] + body + text[j:]
    return text, missing


def stale() -> list[str]:
    """Guides whose generated tables differ from what the script writes (``file: block`` for a missing block)."""
    out = []
    for guide, blocks in BLOCKS.items():
        path = DOCS / guide
        text = path.read_text(encoding="utf-8") if path.exists() else ""
        new, missing = render(text, blocks)
        out += [f"{guide}: block {m} missing" for m in missing]
        if new != text:
            out.append(guide)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check", action="store_true", help="only check; exit 1 when a table is stale")
    args = ap.parse_args(argv)
    if args.check:
        problems = stale()
        for p in problems:
            print(f"stale: docs/{p}", file=sys.stderr)
        if problems:
            print(f"refresh with: {COMMAND}", file=sys.stderr)
        return 1 if problems else 0
    for guide, blocks in BLOCKS.items():
        path = DOCS / guide
        text = path.read_text(encoding="utf-8")
        new, missing = render(text, blocks)
        if missing:
            print(f"docs/{guide}: no markers for {', '.join(missing)}", file=sys.stderr)
            return 1
        if new != text:
            path.write_text(new, encoding="utf-8")
            print(f"wrote docs/{guide}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
