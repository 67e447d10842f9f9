"""Great Expectations suites run on bounded pandas batches (aggregates or small marts).

GX's SQL datasource through duckdb-engine returned empty metrics on this stack, so every
suite here validates a pandas frame built by a bounded SQL query (one row per source, year
and town/street, or one mart of a few thousand rows). Row-level rules on large tables run as
dbt tests inside DuckDB instead.

:func:`validate_frame` returns a :class:`SuiteResult` whose ``failures`` name each failed
expectation with its observed counts and a few offending values.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

import great_expectations as gx  # noqa: E402
import pandas as pd  # noqa: E402

logging.getLogger("great_expectations").setLevel(logging.WARNING)


@dataclass
class SuiteResult:
    """Outcome of one suite on one batch."""

    suite: str
    success: bool
    evaluated: int
    failures: list[dict] = field(default_factory=list)

    def summary(self) -> str:
        if self.success:
            return f"{self.suite}: all {self.evaluated} expectations met"
        parts = [f"{f['expectation']}({f.get('column') or ''}): {f['observed']}" for f in self.failures]
        return f"{self.suite}: {len(self.failures)} of {self.evaluated} expectations failed: " + "; ".join(parts)


_CONTEXT = None


def _context():
    global _CONTEXT
    if _CONTEXT is None:
        ctx = gx.get_context(mode="ephemeral")
        try:
            from great_expectations.data_context.types.base import ProgressBarsConfig

            ctx.variables.progress_bars = ProgressBarsConfig(globally=False)
        except Exception:  # pragma: no cover - progress bars are cosmetic
            pass
        _CONTEXT = ctx
    return _CONTEXT


def validate_frame(df: pd.DataFrame, suite_name: str, expectations: list) -> SuiteResult:
    """Validate ``df`` against a list of GX expectation objects (a suite named ``suite_name``)."""
    ctx = _context()
    batch_def = (
        ctx.data_sources.add_or_update_pandas(f"ds_{suite_name}")
        .add_dataframe_asset(f"asset_{suite_name}")
        .add_batch_definition_whole_dataframe(f"batch_{suite_name}")
    )
    suite = gx.ExpectationSuite(name=suite_name, expectations=expectations)
    batch = batch_def.get_batch(batch_parameters={"dataframe": df})
    result = batch.validate(suite)
    failures = []
    for r in result.results:
        if not r.success:
            cfg = r.expectation_config
            res = r.result or {}
            observed = res.get("observed_value")
            if observed is None:
                observed = f"{res.get('unexpected_count', '?')} unexpected of {res.get('element_count', '?')}"
            failures.append(
                {
                    "expectation": cfg.type,
                    "column": cfg.kwargs.get("column"),
                    "observed": str(observed)[:300],
                    "sample": [str(v) for v in (res.get("partial_unexpected_list") or [])[:5]],
                    "expected": {k: str(v)[:200] for k, v in cfg.kwargs.items() if k not in ("batch_id", "column")},
                }
            )
    return SuiteResult(suite_name, bool(result.success), len(result.results), failures)


E = gx.expectations


def town_coverage_expectations(expected_codes: list[str], count_column: str = "rows_count") -> list:
    """Per-source aggregate (one row per ``geo_code``): only known towns, and every expected one present."""
    return [
        E.ExpectColumnValuesToNotBeNull(column="geo_code"),
        E.ExpectColumnValuesToBeInSet(column="geo_code", value_set=expected_codes),
        E.ExpectColumnDistinctValuesToContainSet(column="geo_code", value_set=expected_codes),
        E.ExpectColumnValuesToBeBetween(column=count_column, min_value=1),
    ]


def observations_expectations(kpi_ids: list[str]) -> list:
    """The mart ``kpi_observations``: every catalog KPI present, values within their bounds."""
    return [
        E.ExpectColumnDistinctValuesToEqualSet(column="kpi_id", value_set=kpi_ids),
        E.ExpectCompoundColumnsToBeUnique(column_list=["kpi_id", "period_year", "geo_code"]),
        E.ExpectColumnValuesToNotBeNull(column="numerator"),
        E.ExpectColumnValuesToBeBetween(column="numerator", min_value=0),
        E.ExpectColumnValuesToBeBetween(column="denominator", min_value=0, strict_min=True),
        E.ExpectColumnValuesToBeBetween(column="pct_value", min_value=0, max_value=100),
        E.ExpectColumnValuesToBeBetween(column="per_10k_value", min_value=0),
    ]
