"""Fixture content shared by the workspace tests (imported by name: tests are not a package)."""

from __future__ import annotations

import textwrap
from pathlib import Path

SHAPES = textwrap.dedent(
    '''\
    """Shapes."""
    import functools


    def plain(a, b=1):
        """Add."""
        return a + b


    async def fetch(url: str) -> bytes:
        return b""


    @functools.lru_cache(maxsize=None)
    def cached(x):
        return x


    class Outer(Base, metaclass=Meta):
        """An outer class."""

        size = 3

        class Inner:
            def method(self):
                def helper():
                    return 1
                return helper()

        @property
        def area(self):
            """The area."""
            return self.size ** 2

        @area.setter
        def area(self, value):
            self.size = value

        @staticmethod
        async def load(
            path,
            *,
            strict=False,
        ):
            return path
    '''
)


def write(root: Path, files: dict[str, str | bytes]) -> None:
    """Create `files` (relative path -> content) under `root`."""
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
