"""No SQL is assembled from strings: statements are built with SQLAlchemy Core and bound parameters
(the only literal SQL is SQLite's fixed PRAGMAs), so page text can never become SQL. Checked on the
source, as a reviewer would."""

from __future__ import annotations

import ast

import pytest

from tests.conftest import ROOT

SOURCES = sorted([*(ROOT / "src" / "ingest").rglob("*.py"), *(ROOT / "flows").rglob("*.py")])
TAKES_SQL = {"execute", "executescript", "exec_driver_sql", "text", "literal_column"}


def is_string_built(node: ast.expr) -> bool:
    """An f-string, a concatenation or %-format, or a .format() call."""
    return (isinstance(node, ast.JoinedStr)
            or (isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Mod)))
            or (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "format"))


def offences(source: str) -> list[int]:
    """Lines where SQL-taking calls get a string assembled at run time."""
    return sorted(node.lineno for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.Call) and node.args and is_string_built(node.args[0])
            and (node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")) in TAKES_SQL)


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_statement_is_built_from_strings(path):
    assert offences(path.read_text(encoding="utf-8")) == []


def test_the_check_catches_what_it_is_for():
    assert offences("conn.execute(f'SELECT * FROM page WHERE url = {url}')\n"
                    "conn.execute(text('DELETE FROM x WHERE id = %s' % i))\n"
                    "cursor.execute('SELECT ' + column)\n"
                    "conn.exec_driver_sql('DROP TABLE {}'.format(name))\n"
                    "conn.execute(select(PAGES).where(PAGES.c.url == url))\n"
                    "cursor.execute('PRAGMA foreign_keys=ON')\n") == [1, 2, 3, 4]
