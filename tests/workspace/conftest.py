"""Fixture repositories, built in tmp_path by the tests themselves."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from workspace_fixtures import SHAPES, write


@pytest.fixture
def fixture_repo(tmp_path: Path) -> Path:
    """A small Python project (not a git repository)."""
    root = tmp_path / "proj"
    write(
        root,
        {
            "pkg/__init__.py": "",
            "pkg/shapes.py": SHAPES,
            "pkg/query.py": textwrap.dedent(
                '''\
                class QuerySet:
                    """Lazy rows."""

                    def filter(self, **kwargs):
                        raise ValueError("Cannot filter a sliced query set")

                    def exclude(self, **kwargs):
                        return self.filter(**kwargs)


                def filter(rows):
                    return [r for r in rows if r]
                '''
            ),
            "docs/guide.txt": "How to filter rows with QuerySet.\n",
            "tests/test_query.py": "from pkg.query import QuerySet\n\n\ndef test_filter():\n    QuerySet()\n",
        },
    )
    return root
