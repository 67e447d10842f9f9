"""Ingestion of one source: every landing file read, checked and accounted for; a bad file set aside.

:func:`ingest_source` reads every file of a source's landing folder in delivery order
(:mod:`daxing_kpi.ingest.redelivery`), each by content (:mod:`daxing_kpi.ingest.readers`), checks
each row against the contract (:mod:`daxing_kpi.ingest.fields`, :mod:`daxing_kpi.ingest.rows`) and
returns an :class:`IngestResult`:

* ``accepted``: the records loaded, typed, personal data removed (ID numbers replaced by a keyed
  hash; names, phones and addresses dropped), with lineage columns ``_source_file``, ``_sheet``,
  ``_row_number``, ``_file_sha256``; a field with a *field fault* is NULL;
* ``quarantine``: one row per faulty cell or non-record row: file, sheet, row, column, reason, the
  value (masked) and ``disposition``: ``quarantined`` (the record is not loaded: a fault in a column
  the contract's ``record_needs`` names, a town outside the district, a duplicate, a totals or
  signature row, cells beyond the header) or ``field_fault`` (loaded with that field NULL);
* ``audit``: one row per file (:mod:`daxing_kpi.ingest.accounting`).

A file that cannot be used is *set aside*, never the night: :class:`FileRejected` raised while reading
or checking it (empty, binary, damaged, no header matching the contract, or more than the contract's
``quality.max_rejected_share`` of its records quarantined) gives it status ``rejected`` with a reason
in Chinese and English, and the source's other files go on. A file set aside earlier (same SHA-256,
same contract and rules: ``known_rejections``) is not read again until it changes.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from daxing_kpi.ingest.accounting import file_audit_row, rejected_audit_row
from daxing_kpi.ingest.contracts import Contract, source_rules
from daxing_kpi.ingest.cutoff import delivery_cutoff
from daxing_kpi.ingest.fields import check_frame
from daxing_kpi.ingest.readers import normalize_text, read_tables
from daxing_kpi.ingest.reasons import ROW_REASONS, FileRejected, Reason, reason_zh
from daxing_kpi.ingest.redelivery import known_file_scopes, landing_files, scope_values, sha256_file
from daxing_kpi.ingest.rows import header_index, marker_rows, match_headers

QUARANTINED, FIELD_FAULT = "quarantined", "field_fault"
PROBLEM_COLUMNS = ["rid", "sheet", "row_number", "column", "reason", "value", "disposition"]
QUARANTINE_COLUMNS = ["source_id", "file_name", "sheet", "row_number", "column", "reason", "value", "disposition"]
# Quarantine reasons that are not a broken record (rows that are no records; duplicates, counted apart).
NOT_REJECTIONS = (Reason.TOTALS_ROW, Reason.NOTE_ROW, Reason.DUPLICATE)


@dataclass
class IngestResult:
    """What :func:`ingest_source` produced for one source."""

    accepted: pd.DataFrame
    quarantine: pd.DataFrame
    audit: list[dict]

    @property
    def rejected(self) -> list[dict]:
        """Audit rows of the files set aside (status ``rejected``)."""
        return [a for a in self.audit if a["status"] == "rejected"]


@dataclass
class _FileRows:
    """Every row read from one file: typed kept columns, lineage, its problems (``rid`` = row id) and
    whether each row is quarantined."""

    label: str
    digest: str
    modified: str
    rows: pd.DataFrame  # kept columns + _sheet, _row_number
    problems: pd.DataFrame  # PROBLEM_COLUMNS
    sheets: dict
    quarantined: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    cutoff: tuple[dt.date, str] | None = None
    rejection: FileRejected | None = None  # past the quarantine limit: set aside with its rows
    # a file not read again (wholly superseded by later files; see known_file_scopes): rows and scopes of its last load
    known_rows: int | None = None
    known_scopes: frozenset[str] | None = None

    @property
    def rows_read(self) -> int:
        return len(self.rows) if self.known_rows is None else self.known_rows


def _empty_problems() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="int64" if c in ("rid", "row_number") else object) for c in PROBLEM_COLUMNS})


def _min_match(contract: Contract) -> int:
    """Contract columns a sheet's header must name to count as a data sheet (others are skipped)."""
    required = sum(c.required for c in contract.columns)
    return min(len(contract.columns), max(2, math.ceil(required / 2)))


def _modified(path: Path) -> dt.datetime:
    return dt.datetime.fromtimestamp(Path(path).stat().st_mtime)


def read_file(path: Path, contract: Contract, label: str, digest: str) -> _FileRows:
    """Read one landing file against its contract: every data sheet, every row typed or flagged.

    A sheet whose header names fewer than half the required columns (at least 2) is not a data
    sheet (a cover or instructions sheet) and is skipped, and listed in the audit's ``sheets``;
    if no sheet qualifies, the best one is checked and its header error raised.
    Raises :class:`FileRejected` (:class:`ContractError` for a header) for a file that cannot be used;
    a file past its quarantine limit comes back with ``rejection`` set and its rows' problems."""
    known = header_index(contract)
    tables = read_tables(path, known, contract.encoding)
    if contract.sheets and any(t.sheet is not None for t, _ in tables):
        wanted = {normalize_text(s) for s in contract.sheets}
        chosen = [(t, m) for t, m in tables if normalize_text(t.sheet or "") in wanted]
        if not chosen:
            found = ", ".join(str(t.sheet) for t, _ in tables)
            raise FileRejected(f"{label}：没有数据契约要求的工作表“{'、'.join(contract.sheets)}”；文件中的工作表：{found}。",
                               f"{label}: no sheet {', '.join(contract.sheets)} for contract {contract.source_id!r}; sheets found: {found}")
        tables = chosen
    need = _min_match(contract)
    data = [(t, m) for t, m in tables if m >= need]
    sheets: dict[str, object] = {}
    if not data:
        best = max(tables, key=lambda tm: tm[1])
        data = [best]
    for t, m in tables:
        if t.sheet is not None and all(t is not d for d, _ in data):
            sheets[t.sheet] = "skipped: no header naming the contract's columns"
    needs = set(contract.record_needs)
    row_parts, prob_parts, quarantined_parts, titles = [], [], [], []
    offset = 0
    for table, matched in data:
        where = label if table.sheet is None else f"{label} [sheet {table.sheet!r}]"
        where += f", header row {table.header_row}"
        mapping = match_headers(list(table.frame.columns), contract, where, header_found=matched > 0)
        titles.extend(table.title_lines)
        df = table.frame.reset_index(drop=True)
        typed, problems = check_frame(df, mapping, contract)
        n = len(df)
        # rows that are no records: only a row with a fault can be one (a totals row lacks a record's values)
        suspects = problems["pos"].to_numpy(dtype=np.int64) if len(problems) else np.array([], dtype=np.int64)
        if table.extra_cells is not None:
            suspects = np.union1d(suspects, np.flatnonzero(table.extra_cells))
        marks, mark_values = marker_rows(df, suspects)
        is_record = marks.isna().to_numpy()
        if len(problems):
            problems = problems[is_record[problems["pos"].to_numpy(dtype=int)]]  # a marker row's one reason replaces its cells'
        disposition = np.where(problems["reason"].isin(ROW_REASONS).to_numpy() | problems["name"].isin(needs).to_numpy(),
                               QUARANTINED, FIELD_FAULT) if len(problems) else np.array([], dtype=object)
        problems = problems.assign(disposition=disposition).drop(columns="name")
        extra = []
        m_idx = np.flatnonzero(~is_record)
        if m_idx.size:
            extra.append(pd.DataFrame({"pos": m_idx, "column": "", "reason": marks.iloc[m_idx].to_numpy(),
                                       "value": mark_values.iloc[m_idx].to_numpy(), "disposition": QUARANTINED}))
        if table.extra_cells is not None:
            e_idx = np.flatnonzero(table.extra_cells & is_record)
            if e_idx.size:
                extra.append(pd.DataFrame({"pos": e_idx, "column": "(beyond the header)", "reason": Reason.EXTRA_CELLS, "value": "",
                                           "disposition": QUARANTINED}))
        if extra:
            problems = pd.concat([problems, *extra], ignore_index=True)
        quarantined = np.zeros(n, dtype=bool)
        if len(problems):
            quarantined[problems.loc[problems["disposition"] == QUARANTINED, "pos"].to_numpy(dtype=np.int64)] = True
            # a record not loaded: every fault of it is part of why (its disposition says the record is out)
            problems.loc[quarantined[problems["pos"].to_numpy(dtype=np.int64)], "disposition"] = QUARANTINED
        typed = typed.reset_index(drop=True)
        if m_idx.size:  # marker rows carry no values
            for c in contract.kept_columns:
                typed.loc[m_idx, c.name] = None
        typed["_sheet"] = table.sheet
        typed["_row_number"] = table.row_numbers
        pos = problems["pos"].to_numpy(dtype=np.int64)
        problems = problems.assign(rid=pos + offset, sheet=table.sheet,
                                   row_number=table.row_numbers[pos] if len(problems) else np.array([], dtype=np.int64)).drop(columns="pos")
        row_parts.append(typed)
        prob_parts.append(problems[PROBLEM_COLUMNS])
        quarantined_parts.append(quarantined)
        if table.sheet is not None:
            sheets[table.sheet] = n
        offset += n
    rows = pd.concat(row_parts, ignore_index=True) if row_parts else pd.DataFrame()
    probs = pd.concat(prob_parts, ignore_index=True) if any(len(p) for p in prob_parts) else _empty_problems()
    quarantined = np.concatenate(quarantined_parts) if quarantined_parts else np.zeros(0, dtype=bool)
    modified = _modified(path)
    f = _FileRows(label, digest, modified.isoformat(timespec="seconds"), rows, probs, sheets, quarantined,
                  cutoff=delivery_cutoff(titles, Path(path).name, modified))
    f.rejection = _over_limit(f, contract)
    return f


def _over_limit(f: _FileRows, contract: Contract) -> FileRejected | None:
    """A :class:`FileRejected` when more than ``max_rejected_share`` of the file's records are quarantined
    for breaking the contract (rows that are no records and duplicates not counted), else None."""
    limit = source_rules(contract)["max_rejected_share"]
    p = f.problems
    if not len(p):
        return None
    markers = p.loc[p["reason"].isin((Reason.TOTALS_ROW, Reason.NOTE_ROW)), "rid"].nunique()
    broken = p[(p["disposition"] == QUARANTINED) & ~p["reason"].isin(NOT_REJECTIONS)]
    records = len(f.rows) - markers
    n_bad = broken["rid"].nunique()
    if not records or n_bad / records <= limit:
        return None
    top = broken.groupby("reason")["rid"].nunique().sort_values(ascending=False)
    first = broken.sort_values("rid").iloc[0]
    at = (f"[sheet {first['sheet']!r}] " if isinstance(first["sheet"], str) else "") + f"row {int(first['row_number'])}, column {first['column']}"
    at_zh = (f"工作表“{first['sheet']}”" if isinstance(first["sheet"], str) else "") + f"第 {int(first['row_number'])} 行“{first['column']}”列"
    share, lim = f"{n_bad / records:.1%}", f"{limit:.0%}" if limit * 100 == int(limit * 100) else f"{limit:.1%}"
    return FileRejected(
        f"{f.label}：{records} 条记录中有 {n_bad} 条（{share}）无法使用，超过上限 {lim}，整个文件暂不加载。"
        f"主要原因：" + "；".join(f"{reason_zh(r)} {n} 条" for r, n in top.head(3).items()) + f"。第一处：{at_zh}。请更正后重新报送。",
        f"{f.label}: {n_bad} of {records} records ({share}) cannot be used, more than the limit of {lim}, so the file is set aside."
        " Main reasons: " + "; ".join(f"{r} ×{n}" for r, n in top.head(3).items()) + f". First at {at}. Please correct and send it again.",
    )


def ingest_source(contract: Contract, landing_root: Path, known_files: dict[str, dict] | None = None,
                  known_rejections: dict[str, dict] | None = None) -> IngestResult:
    """Read, check and type every file of one source's landing folder.

    Files are taken in delivery order (:func:`landing_files`). A file with the same SHA-256 as an
    earlier one is skipped; with a ``delivery_scope`` a later file supersedes earlier files' rows
    of the scopes it covers (all rows of an earlier file whose every scope it covers); a record
    repeating the ``key`` of an earlier remaining record (every key field present) is quarantined as a
    duplicate. Each row read is loaded, quarantined or superseded, and the audit says how many of each,
    per file; a file set aside (:class:`FileRejected`) is recorded with status ``rejected``.

    ``known_files`` (SHA-256 -> ``rows_read, delivery_scope, sheets`` of that file's last load, from
    :func:`daxing_kpi.warehouse.loaded_file_facts`): a file with a ``delivery_scope`` whose every scope is
    covered by later files is wholly superseded, whatever it holds; when its last load says which scopes
    it covers, it is not read again. ``known_rejections`` (SHA-256 -> ``rejected_reason_zh,
    rejected_reason_en, rules_digest, rows_read`` of files set aside before): a file set aside under the
    same contract and rules is set aside again without being read.
    """
    audit_skipped: list[dict] = []
    seen: dict[str, str] = {}
    todo: list[tuple[Path, str, str]] = []
    for path in landing_files(Path(landing_root) / contract.landing_dir):
        digest = sha256_file(path)
        label = f"{contract.landing_dir}/{path.name}"
        if digest in seen:
            audit_skipped.append(dict(
                source_id=contract.source_id, file_name=label, sha256=digest, status="skipped_duplicate_file",
                rows_read=0, rows_loaded=0, rows_quarantined=0, rows_superseded=0, rows_loaded_with_field_faults=0,
                reasons="{}", field_fault_reasons="{}", sheets=None, delivery_scope=None, superseded_by=None,
                duplicate_of=seen[digest], file_modified_at=_modified(path).isoformat(timespec="seconds"),
                rejected_reason_zh=None, rejected_reason_en=None, delivery_cutoff_date=None, delivery_cutoff_source=None,
                rules_digest=contract.digest,
            ))
            continue
        seen[digest] = label
        todo.append((path, label, digest))
    # newest first: a file whose known scopes are all covered by later files is not read again
    later_scopes: set[str] = set()
    by_index: dict[int, _FileRows] = {}
    rejected: list[tuple[int, dict, _FileRows | None]] = []
    for i in range(len(todo) - 1, -1, -1):
        path, label, digest = todo[i]
        before = (known_rejections or {}).get(digest)
        if before and before.get("rules_digest") == contract.digest:
            note_zh, note_en = "（此前已搁置，文件更改后才会重新读取）", " (set aside at an earlier run; read again once the file changes)"
            err = FileRejected(str(before["rejected_reason_zh"]).removesuffix(note_zh) + note_zh,
                               str(before["rejected_reason_en"]).removesuffix(note_en) + note_en)
            rejected.append((i, rejected_audit_row(contract, path, label, digest, err, int(before.get("rows_read") or 0)), None))
            continue
        fact = (known_files or {}).get(digest)
        known = known_file_scopes(contract, fact)
        if known and known <= later_scopes:
            sheets = json.loads(fact["sheets"]) if fact.get("sheets") else {}
            empty = pd.DataFrame(columns=[c.name for c in contract.kept_columns] + ["_sheet", "_row_number"])
            by_index[i] = _FileRows(label, digest, _modified(path).isoformat(timespec="seconds"), empty, _empty_problems(),
                                    sheets, known_rows=int(fact["rows_read"]), known_scopes=known,
                                    cutoff=delivery_cutoff((), path.name, _modified(path)))
            continue
        try:
            f = read_file(path, contract, label, digest)
        except FileRejected as err:
            rejected.append((i, rejected_audit_row(contract, path, label, digest, err, 0), None))
            continue
        if f.rejection is not None:
            rejected.append((i, rejected_audit_row(contract, path, label, digest, f.rejection, len(f.rows), f), f))
            continue
        by_index[i] = f
        if contract.delivery_scope is not None and len(f.rows):
            later_scopes |= set(scope_values(f.rows, contract.delivery_scope).dropna().unique())
    order_idx = sorted(by_index)
    loads = [by_index[i] for i in order_idx]

    kept = [c.name for c in contract.kept_columns]
    # 1. re-delivery: which rows of earlier files are covered by a later file's scope
    scopes = [scope_values(f.rows, contract.delivery_scope) if contract.delivery_scope is not None and len(f.rows) else None for f in loads]
    superseded = [np.zeros(len(f.rows), dtype=bool) for f in loads]
    superseded_by: list[set[str]] = [set() for _ in loads]
    if contract.delivery_scope is not None:
        covered: dict[str, str] = {}  # scope value -> label of the latest file covering it
        for i in range(len(loads) - 1, -1, -1):
            sc = scopes[i]
            if loads[i].known_scopes is not None:  # not read again: wholly superseded (checked above)
                superseded_by[i] = {covered[v] for v in loads[i].known_scopes if v in covered}
                continue
            if sc is None:
                continue
            own = set(sc.dropna().unique())
            hit = sc.isin(set(covered)).fillna(False).to_numpy(dtype=bool, copy=True)
            if own and own <= set(covered):
                hit[:] = True  # every scope of this file was delivered again: the whole file is replaced
            superseded[i] = hit
            superseded_by[i] = {covered[v] for v in own if v in covered}
            for v in own:
                covered.setdefault(v, loads[i].label)

    # 2. problems of the rows that still count; duplicates of the key among the records loaded
    frames, problems = [], []
    for i, f in enumerate(loads):
        if f.known_rows is not None:
            continue  # not read again: no rows, no problems
        r = f.rows.copy()
        r["_source_file"] = f.label
        r["_file_sha256"] = f.digest
        r["_file_index"] = i
        r["_superseded"] = superseded[i]
        p = f.problems
        if len(p):
            p = p[~superseded[i][p["rid"].to_numpy(dtype=np.int64)]]
        r["_bad"] = f.quarantined & ~superseded[i]
        r["_rid"] = np.arange(len(r))
        frames.append(r)
        problems.append(p.assign(file_index=i))
    cols_out = kept + ["_source_file", "_sheet", "_row_number", "_file_sha256"]
    allrows = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=cols_out + ["_file_index", "_superseded", "_bad", "_rid"])
    if contract.key and len(allrows):
        key_cols = list(contract.key)
        live = allrows[~allrows["_bad"].astype(bool) & ~allrows["_superseded"].astype(bool) & allrows[key_cols].notna().all(axis=1)]
        dup = live.duplicated(subset=key_cols, keep="first")
        if dup.any():
            first_at = pd.Series(live.index, index=live.index).groupby([live[k] for k in key_cols], sort=False).transform("min")
            d = live[dup]
            fd = allrows.loc[first_at[dup].to_numpy(), ["_source_file", "_sheet", "_row_number"]]
            fd.index = d.index
            where = fd["_source_file"] + np.where(fd["_sheet"].isna(), "", " [sheet " + fd["_sheet"].astype(str) + "]") + " row " + fd["_row_number"].astype(str)
            dups = pd.DataFrame({
                "rid": d["_rid"].to_numpy(), "sheet": d["_sheet"].to_numpy(), "row_number": d["_row_number"].to_numpy(),
                "column": "+".join(contract.column(k).header_zh for k in key_cols), "reason": Reason.DUPLICATE,
                "value": ("same as " + where).to_numpy(), "disposition": QUARANTINED, "file_index": d["_file_index"].to_numpy(),
            })
            problems.append(dups)
            allrows.loc[d.index, "_bad"] = True
    good = ~allrows["_bad"].to_numpy(dtype=bool) & ~allrows["_superseded"].to_numpy(dtype=bool)
    accepted = allrows.loc[good, cols_out].reset_index(drop=True)

    prob = pd.concat([p for p in problems if len(p)], ignore_index=True) if any(len(p) for p in problems) else _empty_problems().assign(file_index=pd.Series(dtype="int64"))
    prob["file_index"] = prob["file_index"].astype(np.int64)
    if len(prob) and len(allrows):  # a record not loaded (a duplicate too): every fault of it is part of why
        bad = set(zip(allrows.loc[allrows["_bad"].astype(bool), "_file_index"], allrows.loc[allrows["_bad"].astype(bool), "_rid"]))
        out = np.fromiter(((fi, r) in bad for fi, r in zip(prob["file_index"], prob["rid"])), dtype=bool, count=len(prob))
        prob["disposition"] = np.where(out, QUARANTINED, prob["disposition"])
    prob = prob.sort_values(["file_index", "rid", "column"], kind="stable")

    audit = []
    order = {f.label: i for i, f in enumerate(loads)}
    for i, f in enumerate(loads):
        audit.append(file_audit_row(contract, f, prob[prob["file_index"] == i], superseded[i], scopes[i],
                                    superseded_by[i], order, QUARANTINED, FIELD_FAULT))
    quarantine_parts = []
    if len(prob):
        quarantine_parts.append(prob.assign(source_id=contract.source_id, file_name=[loads[i].label for i in prob["file_index"]]))
    for _, row, f in rejected:
        audit.append(row)
        if f is not None and len(f.problems):  # past its limit: its faults stay listed for the clerk, none loaded
            quarantine_parts.append(f.problems.assign(source_id=contract.source_id, file_name=f.label, disposition=QUARANTINED))
    q = pd.concat(quarantine_parts, ignore_index=True)[QUARANTINE_COLUMNS] if quarantine_parts else pd.DataFrame(columns=QUARANTINE_COLUMNS)
    q["row_number"] = q["row_number"].astype(np.int64)
    audit.extend(audit_skipped)
    audit.sort(key=lambda a: (a["file_modified_at"], a["file_name"]))
    total_loaded = sum(a["rows_loaded"] for a in audit)
    if total_loaded != len(accepted):  # the audit is computed apart from the accepted frame: prove they agree
        raise AssertionError(f"{contract.source_id}: audit says {total_loaded} rows loaded, {len(accepted)} accepted")
    return IngestResult(accepted=accepted, quarantine=q.reset_index(drop=True), audit=audit)
