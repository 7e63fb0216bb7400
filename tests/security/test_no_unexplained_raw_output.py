"""No markup marked safe and no SQL run from a string without a comment saying why it is
safe: on the line, in the three lines above it, or (for a module of SQL) in its header
saying "SQL here is safe". A new ``|safe`` or ``cursor.execute`` fails this test until
someone writes down why it cannot carry a user's text into the page or the query."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SKIPPED = {".venv", "tests", "static", "var", "node_modules", "migrations", ".git"}
RISKY = re.compile(
    r"\|\s*safe\b|\bmark_safe\(|\bSafeString\(|\bformat_html\(|\.extra\(|\.raw\(|\bRawSQL\("
    r"|\bcursor\.execute(many)?\(|\bconnection\.execute\("
)
EXPLAINED = re.compile(r"(#|\{#).*\b(safe|nosec)\b", re.I)


def _files(root: Path):
    for path in root.rglob("*"):
        if path.suffix in (".py", ".html") and not SKIPPED & set(path.relative_to(root).parts):
            yield path


def unexplained(root: Path = ROOT) -> list[str]:
    found = []
    for path in _files(root):
        lines = path.read_text(encoding="utf-8").splitlines()
        if "SQL here is safe" in "\n".join(lines[:10]):
            continue
        for number, line in enumerate(lines, start=1):
            if RISKY.search(line) and not any(
                EXPLAINED.search(previous) for previous in lines[max(0, number - 4) : number]
            ):
                found.append(f"{path.relative_to(root)}:{number}: {line.strip()}")
    return sorted(found)


def test_every_safe_marking_and_raw_sql_says_why_it_is_safe():
    assert unexplained() == []


def test_the_check_finds_an_unexplained_one(tmp_path):
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "page.html").write_text(
        "<p>{{ customer.name|safe }}</p>\n<p>{{ note|safe }}{# safe: our own text #}</p>\n"
    )
    (tmp_path / "app.py").write_text(
        "def f(cursor, sql):\n    cursor.execute(sql)\n"
        "    cursor.execute('SELECT 1')  # safe: a constant\n"
    )
    assert unexplained(tmp_path) == [
        "app.py:2: cursor.execute(sql)",
        "templates/page.html:1: <p>{{ customer.name|safe }}</p>",
    ]
