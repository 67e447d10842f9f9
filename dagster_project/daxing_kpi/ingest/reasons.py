"""What ingestion says about a fault: the exact reason texts, in English and Chinese, and the errors it raises.

``Reason`` holds the texts written to ``audit.quarantine.reason`` (and to the messy sample's
``faults.csv``); :data:`REASON_ZH` gives each its Chinese wording for the quality page and the
operator's report. :class:`FileRejected` sets a whole file aside (status ``rejected`` in the
ingest audit, with a reason a clerk understands in both languages); :class:`ContractError` is the
file-level rejection for a header that does not match the contract.
"""

from __future__ import annotations


class Reason:
    """Quarantine and field-fault reasons: the exact texts written to ``audit.quarantine.reason``."""

    MISSING = "missing required value"
    NOT_ALLOWED = "value not in the allowed list"
    NOT_NUMBER = "not a number"
    NOT_WHOLE = "not a whole number"
    BELOW_MIN = "below the minimum {min}"
    BAD_DATE = "unreadable date"
    NOT_YES_NO = "not yes/no (是/否)"
    UNKNOWN_TOWN = "unknown town/street"
    AMBIGUOUS_TOWN = "town/street name fits several units"
    OUTSIDE_DISTRICT = "town/street outside Daxing District"
    BAD_ID = "invalid ID number (length or check digit)"
    ID_CHANGED_BY_EXCEL = "ID number changed by Excel (digits lost)"
    TOTALS_ROW = "totals row (合计/总计), not a record"
    NOTE_ROW = "note or signature row (填表人/说明), not a record"
    EXTRA_CELLS = "values beyond the last header column"
    DUPLICATE = "duplicate record (same key as an earlier row)"


# Rows that are not records, and records that are not loaded whatever the contract says
# (they cannot count anywhere): the disposition of these is always "quarantined".
ROW_REASONS = (Reason.TOTALS_ROW, Reason.NOTE_ROW, Reason.EXTRA_CELLS, Reason.DUPLICATE, Reason.OUTSIDE_DISTRICT)

REASON_ZH = {
    Reason.MISSING: "必填项为空",
    Reason.NOT_ALLOWED: "取值不在允许的列表中",
    Reason.NOT_NUMBER: "不是数字",
    Reason.NOT_WHOLE: "不是整数",
    Reason.BAD_DATE: "日期无法识别",
    Reason.NOT_YES_NO: "不是“是/否”",
    Reason.UNKNOWN_TOWN: "镇街无法识别",
    Reason.AMBIGUOUS_TOWN: "镇街名称可对应多个单位",
    Reason.OUTSIDE_DISTRICT: "镇街不属于大兴区",
    Reason.BAD_ID: "身份证号码无效（位数或校验位不对）",
    Reason.ID_CHANGED_BY_EXCEL: "身份证号码被 Excel 改写（后几位丢失）",
    Reason.TOTALS_ROW: "合计行，不是记录",
    Reason.NOTE_ROW: "填表人/说明行，不是记录",
    Reason.EXTRA_CELLS: "表头最后一列右侧还有内容",
    Reason.DUPLICATE: "重复记录（与前面某行的标识相同）",
}


def reason_zh(reason: str) -> str:
    """The Chinese wording of a reason (``below the minimum 0`` -> ``小于最小值 0``); the English text
    when there is none."""
    if reason.startswith("below the minimum "):
        return "小于最小值 " + reason.removeprefix("below the minimum ")
    return REASON_ZH.get(reason, reason)


class FileRejected(Exception):
    """A file set aside as a whole: it cannot be read, holds no table matching its contract, or is past
    its quarantine limit. Raised anywhere in reading or checking a file; :func:`ingest_source` records it
    (status ``rejected``) and goes on with the source's other files.

    ``reason_zh`` and ``reason_en`` say what is wrong in words a clerk understands, naming the file (and
    sheet, row, column where there is one)."""

    def __init__(self, reason_zh: str, reason_en: str):
        super().__init__(reason_en)
        self.reason_zh = reason_zh
        self.reason_en = reason_en

    def __str__(self) -> str:
        return self.reason_en


class ContractError(FileRejected, ValueError):
    """A file whose header cannot be matched to its contract (names the file, sheet and columns)."""

    def __init__(self, reason_en: str, reason_zh: str | None = None):
        super().__init__(reason_zh or reason_en, reason_en)
