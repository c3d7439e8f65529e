"""A compressed directory tree that fits a prompt budget.

The model chooses files from this view, so it must show real paths only and as many of them as
the budget allows: the deepest levels fold first (into `name/ (N files)`), then long folders are
cut to their first entries, rather than the listing being cut off at an arbitrary line.
"""

from __future__ import annotations

from collections.abc import Iterable

from swe_lsp.workspace.index import RepoIndex

_Node = dict[str, "_Node | None"]  # folder name -> subtree; file name -> None
FILES_PER_FOLDER = (None, 30, 10, 3)  # caps tried in turn, None: no cap


def compressed_tree(index: RepoIndex, budget_chars: int = 4000) -> str:
    """The index's files as an indented tree of at most `budget_chars` characters."""
    return render_paths(index.paths, budget_chars)


def render_paths(paths: Iterable[str], budget_chars: int) -> str:
    """`compressed_tree` over any list of relative paths."""
    root: _Node = {}
    for path in paths:
        node = root
        *folders, name = path.split("/")
        for folder in folders:
            child = node.setdefault(folder, {})
            node = child if child is not None else node
        node[name] = None
    depth = _depth(root)
    for limit in range(depth, 0, -1):
        for cap in FILES_PER_FOLDER:
            text = "\n".join(_render(root, 0, limit, cap))
            if len(text) <= budget_chars:
                return text
    lines = list(_render(root, 0, 1, FILES_PER_FOLDER[-1]))
    out, used = [], 0
    for i, line in enumerate(lines):
        if used + len(line) + 40 > budget_chars:
            out.append(f"… ({len(lines) - i} more entries)")
            break
        out.append(line)
        used += len(line) + 1
    return "\n".join(out)


def _depth(node: _Node) -> int:
    return 1 + max((_depth(child) for child in node.values() if child is not None), default=0)


def _count(node: _Node) -> int:
    return sum(1 if child is None else _count(child) for child in node.values())


def _render(node: _Node, level: int, limit: int, cap: int | None) -> Iterable[str]:
    pad = "  " * level
    folders = sorted(k for k, v in node.items() if v is not None)
    files = sorted(k for k, v in node.items() if v is None)
    for name in folders:
        child = node[name]
        assert child is not None
        if level + 1 >= limit:
            yield f"{pad}{name}/ ({_count(child)} files)"
        else:
            yield f"{pad}{name}/"
            yield from _render(child, level + 1, limit, cap)
    shown = files if cap is None else files[:cap]
    for name in shown:
        yield f"{pad}{name}"
    if len(shown) < len(files):
        yield f"{pad}… and {len(files) - len(shown)} more files"
