"""Sample-data plug-ins, one module per domain (added by the catalog's KPIs beyond the headline four).

Each module listed in ``DOMAIN_MODULES`` provides:

* ``build(gen: SampleGenerator) -> dict[str, pandas.DataFrame | Callable[[Path], None]]``: the
  landing files it adds, keyed by landing folder name. A DataFrame is written as
  ``<folder>/<folder>_<export date>.csv`` (UTF-8); a callable receives the folder and writes its
  own files (an Excel return form, for instance). Use ``gen.rng_for("<module>")`` for randomness
  so one domain's changes never shift another's data, and ``gen.towns`` / ``gen.residents(i, y)``.
* ``ground_truth(gen: SampleGenerator) -> pandas.DataFrame``: the domain's KPI values counted by
  its own pandas code from the records ``build`` made (kept on ``gen``), columns
  ``kpi_id, period_year, geo_code, numerator, denominator, value``.
"""

from __future__ import annotations

import importlib

# Module names under daxing_kpi.sample.domains, in a fixed order.
DOMAIN_MODULES: list[str] = ["institutions", "organisations", "communities"]


def modules():
    """The imported domain modules, in registry order."""
    return [importlib.import_module(f"daxing_kpi.sample.domains.{name}") for name in DOMAIN_MODULES]
