"""The project's own YAML files (data contracts, sheet contracts, the dashboard's labels), read safely.

PyYAML's safe loader in C (``CSafeLoader``) where PyYAML was built with libyaml, as its wheels are, else its
pure-Python ``SafeLoader``: the same documents, about ten times quicker (the 26 data contracts are read
several times by every night, each in 10 ms instead of 100 ms). Errors are PyYAML's (``yaml.YAMLError``,
naming line and column).
"""

from __future__ import annotations

from pathlib import Path

import yaml

SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_yaml(text: str):
    """The document in ``text`` (plain dicts, lists, strings, numbers), as ``yaml.safe_load`` reads it."""
    return yaml.load(text, Loader=SAFE_LOADER)


def read_yaml(path: Path | str):
    """The document in the UTF-8 file at ``path`` (see :func:`load_yaml`)."""
    return load_yaml(Path(path).read_text(encoding="utf-8"))
