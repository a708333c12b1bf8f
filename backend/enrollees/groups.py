"""A person's special-group memberships, read in the same query as the person.

Memberships ride along as one text column, "group:year,group:year" (string_agg on PostgreSQL,
group_concat on SQLite), so pricing a person never costs a second round trip.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, String, cast, func, select

from backend.models import SpecialGroupMembership

GroupsByYear = dict[int, frozenset[str]]


def memberships_of(enrollee_id: ColumnElement[int]) -> ColumnElement[str]:
    """The memberships of the enrollee `enrollee_id` names, as one text column."""
    return (
        select(
            func.aggregate_strings(
                SpecialGroupMembership.group + ":" + cast(SpecialGroupMembership.year, String),
                ",",
            )
        )
        .where(SpecialGroupMembership.enrollee_id == enrollee_id)
        .scalar_subquery()
        .label("memberships")
    )


def groups_by_year(memberships: str | None) -> GroupsByYear:
    found: dict[int, set[str]] = {}
    for membership in (memberships or "").split(","):
        if membership:
            group, _, year = membership.partition(":")
            found.setdefault(int(year), set()).add(group)
    return {year: frozenset(groups) for year, groups in found.items()}
