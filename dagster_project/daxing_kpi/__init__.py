"""Daxing District civil-affairs 14th Five-Year Plan KPI warehouse.

Importing the package turns off the usage telemetry of dbt, Dagster and Great
Expectations for every process started from it (the machine is offline, like a
government intranet). The project's own configuration files say the same:
``dbt/dbt_project.yml`` (``send_anonymous_usage_stats: false``) and
``dagster_project/daxing_kpi/dagster.yaml`` (``telemetry: enabled: false``).
"""

import os

for _var, _value in {
    "DO_NOT_TRACK": "1",
    "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    "DAGSTER_DISABLE_TELEMETRY": "1",
    "GX_ANALYTICS_ENABLED": "false",
}.items():
    os.environ.setdefault(_var, _value)

__version__ = "0.1.0"
