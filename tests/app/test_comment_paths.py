"""Every file path a comment or docstring names under app/, jobs/, inference/ and search/ exists.

A path is a name with a directory part and a file extension (``jobs/broker.py``,
``docs/search.md``), read from the repository root or from the module's own directory. Bare
file names (``config.pbtxt``, ``model.py``) name files that are generated or live elsewhere
at run time and are not checked.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("app", "jobs", "inference", "search")
_PATH = re.compile(
    r"(?<![\w.@:/<>-])((?:[\w.-]+/)+[\w.-]+\.(?:py|md|toml|txt|json|pbtxt|ya?ml|sh|graphql|ini|cfg|lock|sql))(?![\w/])"
)


def named_paths(source: str) -> list[tuple[int, str]]:
    """(line, path) of every path named in a comment or docstring of ``source``."""
    texts = [
        (token.start[0], token.string)
        for token in tokenize.generate_tokens(io.StringIO(source).readline)
        if token.type == tokenize.COMMENT
    ]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            docstring = ast.get_docstring(node, clean=False)
            if docstring:
                texts.append((node.body[0].lineno, docstring))
    return [(line, match.group(1)) for line, text in texts for match in _PATH.finditer(text)]


def test_paths_named_in_comments_exist() -> None:
    missing = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            for line, name in named_paths(path.read_text(encoding="utf-8")):
                if not ((ROOT / name).exists() or (path.parent / name).exists()):
                    missing.append(f"{path.relative_to(ROOT)}:{line}: {name}")
    assert missing == []


def test_the_guard_reads_comments_and_docstrings() -> None:
    source = (
        '"""See docs/api.md and https://example.org/x/y.md."""\n'
        "# the broker (jobs/broker.py), not app/<domain>/repository.py\n"
        "def f() -> None:\n"
        '    """Written by scripts/gone.sh."""\n'
    )
    assert sorted(named_paths(source)) == [(1, "docs/api.md"), (2, "jobs/broker.py"), (4, "scripts/gone.sh")]
