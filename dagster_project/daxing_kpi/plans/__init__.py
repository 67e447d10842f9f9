"""Plans as data (issue 18): the bundled plans (``seeds/plans.csv`` and its companions) and the plans
planners add as workbooks (计划指标模板.xlsx dropped into ``landing/plans/``).

* :mod:`daxing_kpi.plans.bundled`: the bundled plans' seeds read in Python (tests, tools).
"""
