"""Query helpers for prefix matches and materialized paths, served by b-tree indexes."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ColumnElement, or_


def prefix_range(column: ColumnElement[str], prefix: str) -> ColumnElement[bool]:
    """``column`` starts with ``prefix``, as a range b-tree indexes answer on both databases."""
    return (column >= prefix) & (column < prefix + "\U0010ffff")


def within_paths(
    column: ColumnElement[str], paths: Sequence[str] | None
) -> ColumnElement[bool] | None:
    """Rows whose path lies in one of the given subtrees; None when there is no restriction."""
    if paths is None:
        return None
    if not paths:
        return column != column  # nothing is visible
    return or_(*(prefix_range(column, path) for path in paths))
