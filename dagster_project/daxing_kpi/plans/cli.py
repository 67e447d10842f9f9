"""``kpi plan-template`` and ``kpi plan-check``: the plan workbook for planners (issue 18.2).

* ``kpi plan-template [--output PATH]`` writes the blank template 计划指标模板.xlsx (default: in the
  current folder) and prints its path.
* ``kpi plan-check FILE ...`` checks filled workbooks as the nightly job will, without loading them:
  prints each problem (sheet, row, column) in Chinese (``--english`` in English) and exits 1 when a
  workbook would be rejected, 0 when every one would be accepted.

Exit codes: 0 success, 1 a workbook has problems, 2 usage error (a file that does not exist).
"""

from __future__ import annotations

import argparse
from pathlib import Path

COMMANDS = ("plan-template", "plan-check")


def add_subcommands(sub) -> None:
    from daxing_kpi.plans.contract import TEMPLATE_NAME

    p = sub.add_parser("plan-template", help=f"write the blank plan workbook template ({TEMPLATE_NAME}) for planners")
    p.add_argument("--output", "-o", default=TEMPLATE_NAME, help=f"where to write it (default ./{TEMPLATE_NAME})")
    c = sub.add_parser("plan-check", help="check filled plan workbooks as the nightly job will (nothing is loaded)")
    c.add_argument("files", nargs="+", type=Path, help="workbooks to check (.xlsx)")
    c.add_argument("--english", action="store_true", help="print the problems in English")


def dispatch(args: argparse.Namespace) -> int:
    from daxing_kpi.plans.template import write_workbook
    from daxing_kpi.plans.workbook import read_workbook

    if args.command == "plan-template":
        print(write_workbook(Path(args.output)).resolve())
        return 0
    status = 0
    for path in args.files:
        if not path.is_file():
            print(f"{path}: 文件不存在 (no such file)")
            return 2
        book = read_workbook(path)
        if book.ok:
            print(f"{path}: 没有发现错误，可以放入 landing/plans/（规划 {book.plan_id}，{len(book.targets)} 个目标）" if not args.english
                  else f"{path}: no problems; ready for landing/plans/ (plan {book.plan_id}, {len(book.targets)} targets)")
            continue
        status = 1
        print(f"{path}: {len(book.problems)} 处错误，整个工作簿不会被采用：" if not args.english
              else f"{path}: {len(book.problems)} problems; the workbook would be rejected:")
        for p in book.problems:
            print("  " + (p.text_en if args.english else p.text_zh))
    return status
