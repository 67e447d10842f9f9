"""The README and the guides in docs/: short README, Quick start unchanged, generated tables current, every
relative link and anchor resolving, every ``kpi`` command shown existing with the options it uses.

Cheap: no warehouse is built. The ``kpi`` help texts come from the installed command (``python -m
daxing_kpi.cli``), the tables from scripts/docs_tables.py.
"""

from __future__ import annotations

import functools
import re
import shlex
import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote

import pytest

from daxing_kpi.paths import PROJECT_ROOT

sys.path.insert(0, str(PROJECT_ROOT / "scripts"))
import docs_tables  # noqa: E402

README = PROJECT_ROOT / "README.md"
DOCS = PROJECT_ROOT / "docs"
GUIDES = ("planners.zh.md", "analysts.md", "operators.md", "methodology.md", "development.md")
QUICK_START = ("scripts/install.sh && .venv/bin/kpi run", "scripts/install.sh --test && .venv/bin/pytest")
SHELL_LANGS = {"bash", "sh", "shell", "console"}


def markdown_files() -> list[Path]:
    return [README, *sorted(DOCS.rglob("*.md"))]


def fenced_blocks(text: str) -> list[tuple[str, str]]:
    """``(language, body)`` of every fenced code block."""
    return [(m.group(2).strip().lower(), m.group(3))
            for m in re.finditer(r"^(```+)([^\n`]*)\n(.*?)^\1[ \t]*$", text, re.S | re.M)]


def prose(text: str) -> str:
    """The text outside fenced code blocks and inline code spans."""
    text = re.sub(r"^(```+)[^\n]*\n.*?^\1[ \t]*$", "", text, flags=re.S | re.M)
    return re.sub(r"`[^`\n]+`", "", text)


# --------------------------------------------------------------------------- README


def test_readme_is_under_ten_thousand_characters():
    n = len(README.read_text(encoding="utf-8"))
    assert n < 10_000, f"README.md has {n:,} characters; move detail into docs/"


def test_quick_start_has_exactly_the_two_commands():
    text = README.read_text(encoding="utf-8")
    section = re.search(r"^## Quick start\n(.*?)(?=^## )", text, re.S | re.M)
    assert section, "README.md has no '## Quick start' section"
    blocks = [body.strip() for _, body in fenced_blocks(section.group(1))]
    assert blocks == list(QUICK_START)


def test_readme_links_every_guide():
    text = README.read_text(encoding="utf-8")
    for guide in GUIDES:
        assert f"](docs/{guide})" in text, guide
        assert (DOCS / guide).exists(), guide


def test_every_guide_has_a_table_of_contents():
    for guide in GUIDES:
        text = (DOCS / guide).read_text(encoding="utf-8")
        head = text[: text.find("\n## ", text.find("\n## ") + 1)]  # up to the second section heading
        local = re.findall(r"\]\(#[^)]+\)", head)
        assert len(local) >= 4, f"docs/{guide}: no table of contents (links to its sections) before its second section"


def test_planners_guide_is_in_chinese():
    text = prose((DOCS / "planners.zh.md").read_text(encoding="utf-8"))
    text = re.sub(r"<!--.*?-->|\([^)]*\)|<[^>]+>", "", text, flags=re.S)  # link targets, comments, tags
    han = len(re.findall(r"[\u4e00-\u9fff]", text))
    latin = len(re.findall(r"[A-Za-z]", text))
    assert han > 5 * latin, f"docs/planners.zh.md: {han} Chinese characters, {latin} Latin letters"


# --------------------------------------------------------------------------- generated tables


def test_generated_tables_are_current():
    stale = docs_tables.stale()
    assert not stale, (f"tables in docs/ are stale ({', '.join(stale)}): refresh them with "
                       f"{docs_tables.COMMAND} and commit the result")


def test_the_analysts_guide_lists_every_published_table():
    from daxing_kpi.warehouse import PUBLISHED_MARTS

    documented = set(docs_tables.published_tables())
    assert set(PUBLISHED_MARTS) <= documented, set(PUBLISHED_MARTS) - documented
    text = (DOCS / "analysts.md").read_text(encoding="utf-8")
    for table in documented:
        assert f'<a id="table-{table.replace("_", "-")}"></a>' in text, table


def test_the_kpi_table_names_every_catalog_kpi_and_its_model():
    catalog = docs_tables.read_csv(docs_tables.SEEDS / "kpi_catalog.csv")
    text = (DOCS / "methodology.md").read_text(encoding="utf-8")
    for k in catalog:
        assert f"`{k['kpi_id']}`" in text, k["kpi_id"]
        assert docs_tables.kpi_model(k["kpi_id"]) is not None, f"no model int_kpi_... for {k['kpi_id']}"


def test_generated_blocks_fail_when_a_fact_changes(monkeypatch):
    """The staleness check sees a changed catalog: the test above cannot pass by accident."""
    real = docs_tables.read_csv

    def changed(path):
        rows = real(path)
        if path.name == "kpi_catalog.csv":
            rows[0] = {**rows[0], "name_en": rows[0]["name_en"] + " (renamed)"}
        return rows

    monkeypatch.setattr(docs_tables, "read_csv", changed)
    assert "methodology.md" in docs_tables.stale()


# --------------------------------------------------------------------------- links and anchors


def github_slug(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, links and tags reduced to their text, punctuation
    other than '-' and '_' removed (letters of any script kept), spaces to '-'."""
    s = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading.strip())
    s = re.sub(r"<[^>]+>", "", s).lower()
    s = re.sub(r"[^\w\- ]", "", s)
    return s.replace(" ", "-")


@functools.cache
def anchors(path: Path) -> frozenset[str]:
    text = path.read_text(encoding="utf-8")
    text_wo_code = re.sub(r"^(```+)[^\n]*\n.*?^\1[ \t]*$", "", text, flags=re.S | re.M)
    seen: dict[str, int] = {}
    out = set(re.findall(r"<a (?:id|name)=\"([^\"]+)\"", text))
    for m in re.finditer(r"^#{1,6} +(.+?)#*[ \t]*$", text_wo_code, re.M):
        slug = github_slug(m.group(1))
        n = seen.get(slug, 0)
        out.add(slug if n == 0 else f"{slug}-{n}")
        seen[slug] = n + 1
    return frozenset(out)


def links(path: Path) -> list[str]:
    text = prose(path.read_text(encoding="utf-8"))
    text = re.sub(r"<!--.*?-->", "", text, flags=re.S)
    found = re.findall(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)", text)
    found += re.findall(r"<(?:a|img)\b[^>]*?(?:href|src)=\"([^\"]+)\"", text)
    return found


def test_github_slug_follows_githubs_rules():
    assert github_slug("Quick start") == "quick-start"
    assert github_slug("`kpi run --full`: a full night") == "kpi-run---full-a-full-night"
    assert github_slug("三、评估结论是什么意思（已实现目标、未实现目标、退步）") == "三评估结论是什么意思已实现目标未实现目标退步"


@pytest.mark.parametrize("path", markdown_files(), ids=lambda p: str(p.relative_to(PROJECT_ROOT)))
def test_every_relative_link_resolves(path):
    broken = []
    for target in links(path):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I):  # http:, https:, mailto: ...
            continue
        file_part, _, anchor = target.partition("#")
        dest = (path.parent / unquote(file_part)).resolve() if file_part else path
        if not dest.exists():
            broken.append(f"{target}: no file {dest.relative_to(PROJECT_ROOT) if dest.is_relative_to(PROJECT_ROOT) else dest}")
        elif anchor and dest.suffix == ".md" and unquote(anchor) not in anchors(dest):
            broken.append(f"{target}: no heading or anchor #{anchor} in {dest.name}")
    assert not broken, f"{path.name}: " + "; ".join(broken)


# --------------------------------------------------------------------------- kpi commands shown


@functools.cache
def kpi_help(*args: str) -> str:
    proc = subprocess.run([sys.executable, "-m", "daxing_kpi.cli", *args, "--help"], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def subcommands() -> set[str]:
    return set(re.search(r"\{([\w,-]+)\}", kpi_help()).group(1).split(","))


def options_of(sub: str) -> set[str]:
    return set(re.findall(r"(?<![\w-])(--?[A-Za-z][\w-]*)", kpi_help(sub)))


PREFIXES = ("sudo", "nice", "env", "time", "exec")  # words that may stand before the command


def kpi_commands() -> list[tuple[str, list[str]]]:
    """``(file, argv)`` of every command shown in a shell block of README.md and docs/ whose command is
    ``kpi`` (also ``.venv/bin/kpi`` or any ``.../kpi``), after environment settings and sudo/nice/env."""
    found = []
    for path in markdown_files():
        for lang, body in fenced_blocks(path.read_text(encoding="utf-8")):
            if lang not in SHELL_LANGS:
                continue
            for line in body.replace("\\\n", " ").splitlines():
                line = line.strip()
                if lang == "console":
                    if not line.startswith("$ "):
                        continue
                    line = line[2:]
                for part in re.split(r"&&|\|\||;|\|", line):
                    try:
                        words = shlex.split(part, comments=True)
                    except ValueError:
                        continue
                    i = 0
                    while i < len(words):
                        w = words[i]
                        if re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", w):
                            i += 1
                        elif w in PREFIXES:
                            i += 1
                            while i < len(words) and words[i].startswith("-"):
                                i += 2 if words[i] in ("-u", "-g", "-n") else 1
                        else:
                            break
                    if i < len(words) and (words[i] == "kpi" or words[i].endswith("/kpi")):
                        found.append((path.name, [a for a in words[i + 1:] if not a.startswith(">")]))
    return found


def test_docs_show_kpi_commands():
    shown = {argv[0] for _, argv in kpi_commands() if argv}
    assert {"run", "sql", "export", "status", "report", "plan-template", "plan-check"} <= shown, shown


def test_every_kpi_command_shown_exists_with_its_options():
    subs = subcommands()
    wrong = []
    for name, argv in kpi_commands():
        if not argv or argv[0] in ("-h", "--help"):
            continue
        sub = argv[0]
        if sub not in subs:
            wrong.append(f"{name}: kpi {sub}: not a command of kpi --help ({', '.join(sorted(subs))})")
            continue
        known = options_of(sub)
        for arg in argv[1:]:
            if arg.startswith("-") and arg != "-" and not re.match(r"^-\d", arg):
                opt = arg.split("=", 1)[0]
                if opt not in known:
                    wrong.append(f"{name}: kpi {sub} {opt}: not an option of kpi {sub} --help")
    assert not wrong, "\n".join(wrong)


def test_settings_named_in_the_docs_exist_in_the_code():
    """Every KPI_* setting a guide names is read somewhere in the product, its scripts or dbt profiles."""
    code = "\n".join(p.read_text(encoding="utf-8", errors="replace")
                     for root in ("dagster_project/daxing_kpi", "dbt/models", "dbt/macros", "scripts", "benchmarks")
                     for p in (PROJECT_ROOT / root).rglob("*")
                     if p.is_file() and p.suffix in {".py", ".yml", ".yaml", ".sql", ".sh"})
    code += (PROJECT_ROOT / "dbt" / "profiles.yml").read_text(encoding="utf-8")
    unknown = set()
    for path in markdown_files():
        for name in set(re.findall(r"\bKPI_[A-Z0-9_]*[A-Z0-9]\b", path.read_text(encoding="utf-8"))):
            if name not in code:
                unknown.add(f"{path.name}: {name}")
    assert not unknown, sorted(unknown)
