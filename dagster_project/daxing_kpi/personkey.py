"""The secret key of person keys (HMAC-SHA256 of ID numbers), one place for how it is obtained.

Ingestion replaces every ID number by ``HMAC-SHA256(key, normalised number)`` (the ``person_key``
columns), so the key decides whether a person key can be linked back to a number.
"""

from __future__ import annotations

import os

DEV_PII_KEY = "DEVELOPMENT-ONLY-KEY--set-KPI_PII_KEY-in-production"


def pii_key() -> bytes:
    """The HMAC key for person keys: ``$KPI_PII_KEY``, or the clearly marked development default."""
    return os.environ.get("KPI_PII_KEY", DEV_PII_KEY).encode("utf-8")
