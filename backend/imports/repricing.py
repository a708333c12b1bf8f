"""Does a new special-group membership change what a registration costs? Pure: the fee engine.

A registration's price (what the bureau is told the person pays and the government pays for
them) depends on the person's groups of the policy's collection year, through the one most
generous group that applies. A membership that changes nothing (a group this scheme does not
help, or a person already in a more generous one) changes no price, so needs no push.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from backend.fees import NotEligible, SchemePolicy, pension_options, quote

Price = tuple[tuple[int | None, int, int, int], ...]


def price(
    policy: SchemePolicy, *, birth_date: date, groups: Iterable[str], is_student: bool
) -> Price | None:
    """Every option the person has (a pension's grades, medical's one price), or None when the
    person cannot be priced under this policy at all (which no group changes)."""
    groups = frozenset(groups)
    try:
        if policy.scheme == "pension":
            options = pension_options(
                policy, birth_date=birth_date, groups=groups, is_student=is_student
            )
        else:
            options = [quote(policy, birth_date=birth_date, groups=groups, is_student=is_student)]
    except NotEligible:
        return None
    return tuple(
        (q.grade_yuan, q.payable_fen, q.gov_paid_fen, q.contribution_subsidy_fen) for q in options
    )


def changes_price(
    policy: SchemePolicy,
    *,
    birth_date: date,
    is_student: bool,
    before: Iterable[str],
    added: Iterable[str],
) -> bool:
    """Whether the groups `added` to those held `before` (both of the policy's collection
    year) change the price of a registration under `policy`."""
    before = frozenset(before)
    after = before | frozenset(added)
    if after == before:
        return False
    person = {"birth_date": birth_date, "is_student": is_student}
    return price(policy, groups=before, **person) != price(policy, groups=after, **person)
