"""One way to page a list endpoint: count the rows the query selects, then take the page asked
for (flask-smorest's `page` and `page_size`, answered with its X-Pagination header)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

# No list holds this many rows, so a page starting further is empty anyway; the cap keeps an
# absurd `page` (any integer is valid) from becoming an OFFSET the database cannot take.
MAX_OFFSET = 2**31 - 1


def page_of(session: Session, query: Select, pagination: Any) -> list[Any]:
    """The page of `query`'s rows (entities when it selects one entity, else rows)."""
    pagination.item_count = session.scalar(select(func.count()).select_from(query.subquery()))
    page = query.limit(pagination.page_size).offset(min(pagination.first_item, MAX_OFFSET))
    if len(query.column_descriptions) == 1:
        return list(session.scalars(page))
    return list(session.execute(page))


def window(pagination: Any) -> tuple[int, int]:
    """(offset, limit) of the page asked for, for a service that counts its own rows."""
    return min(pagination.first_item, MAX_OFFSET), pagination.page_size
