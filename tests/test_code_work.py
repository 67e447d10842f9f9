"""Work that depends on the code alone is done once per checkout (issue 20.3).

The dbt unit tests and the dbt docs site check or describe the code, never a warehouse's data: they are
redone when the code fingerprint differs from the one in their mark file, or when the operator asks for
``kpi run --full``; a whole job the night plan chose (a new warehouse's first night) keeps them.
``tests/test_night.py`` shows ``kpi run --full`` rebuilding the docs site end to end.
"""

from __future__ import annotations

from types import SimpleNamespace

from daxing_kpi import nightplan


def run_context(**tags) -> SimpleNamespace:
    """The part of a Dagster asset context the rule reads: the run's tags."""
    return SimpleNamespace(run=SimpleNamespace(tags=tags))


def test_work_is_due_without_a_mark_or_with_a_mark_of_other_code(tmp_path):
    mark = tmp_path / "unit_tests.passed"
    code = nightplan.code_fingerprint()
    assert nightplan.code_work_due(mark) == code  # never done
    mark.write_text("0" * 32 + "\n", encoding="utf-8")
    assert nightplan.code_work_due(mark, run_context()) == code  # done with other code
    mark.write_text(code + "\n", encoding="utf-8")
    assert nightplan.code_work_due(mark, run_context()) is None  # done with this code


def test_a_whole_job_chosen_by_the_plan_keeps_the_work_and_kpi_run_full_redoes_it(tmp_path):
    mark = tmp_path / "code.digest"
    code = nightplan.code_fingerprint()
    mark.write_text(code + "\n", encoding="utf-8")
    first_night = run_context(**{nightplan.FULL_TAG: "1"})  # a new warehouse: the whole job, not asked for
    assert nightplan.full_rebuild_requested(first_night) and not nightplan.full_rebuild_asked(first_night)
    assert nightplan.code_work_due(mark, first_night) is None
    asked = run_context(**{nightplan.FULL_TAG: "1", nightplan.FULL_ASKED_TAG: "1"})  # kpi run --full
    assert nightplan.code_work_due(mark, asked) == code

