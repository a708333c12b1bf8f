"""Finance totals (财政配套): per group and per level, exactly the fen the paid items carry."""

from hypothesis import given, settings
from hypothesis import strategies as st

from backend.fees import GROUPS, LEVELS
from backend.finance.totals import NO_GROUP, Subsidised, finance_totals, split_fen

check = settings(deadline=None, max_examples=300)


def shares_strategy():
    """Three whole percents adding up to 100, in LEVELS order."""
    return (
        st.tuples(st.integers(0, 100), st.integers(0, 100))
        .map(sorted)
        .map(lambda cut: tuple(zip(LEVELS, (cut[0], cut[1] - cut[0], 100 - cut[1]), strict=True)))
    )


items_strategy = st.lists(
    st.builds(
        Subsidised,
        group=st.sampled_from((*GROUPS, None)),
        gov_paid_fen=st.integers(0, 100_000),
        contribution_subsidy_fen=st.integers(0, 30_000),
    ),
    max_size=60,
)


def test_a_fen_that_does_not_divide_goes_to_the_largest_remainder():
    # 10001 fen at 40/30/30: 4000.4, 3000.3, 3000.3 -> the one fen left goes to the province.
    assert split_fen(10001, (("province", 40), ("city", 30), ("county", 30))) == {
        "province": 4001,
        "city": 3000,
        "county": 3000,
    }
    # 2 fen at 34/33/33: remainders 68, 66, 66 -> province, then city (the earlier on a tie).
    assert split_fen(2, (("province", 34), ("city", 33), ("county", 33))) == {
        "province": 1,
        "city": 1,
        "county": 0,
    }


def test_people_in_no_group_count_for_the_contribution_subsidy_alone():
    totals = finance_totals(
        [
            Subsidised("dibao", 10000, 3000),
            Subsidised(None, 0, 6000),
            Subsidised(None, 0, 0),  # no government money: not counted
            Subsidised("tekun", 10000, 3000),
        ],
        gov_paid_shares=(("province", 0), ("city", 0), ("county", 100)),
        subsidy_shares=(("province", 50), ("city", 25), ("county", 25)),
        order=GROUPS,
    )
    assert [
        (g.group, g.people, g.gov_paid_fen, g.contribution_subsidy_fen) for g in totals.groups
    ] == [
        ("tekun", 1, 10000, 3000),
        ("dibao", 1, 10000, 3000),
        (NO_GROUP, 1, 0, 6000),
    ]
    assert totals.total.people == 3
    assert totals.total.gov_paid_by_level == {"province": 0, "city": 0, "county": 20000}
    assert totals.total.contribution_subsidy_by_level == {
        "province": 6000,
        "city": 3000,
        "county": 3000,
    }


@check
@given(total=st.integers(0, 10**9), shares=shares_strategy())
def test_a_split_adds_up_and_no_level_is_off_its_share_by_a_fen(total, shares):
    parts = split_fen(total, shares)
    assert sum(parts.values()) == total
    for level, percent in shares:
        assert abs(parts[level] * 100 - total * percent) < 100


@check
@given(items=items_strategy, gov=shares_strategy(), subsidy=shares_strategy())
def test_totals_per_group_and_level_reconcile_with_the_items(items, gov, subsidy):
    totals = finance_totals(items, gov_paid_shares=gov, subsidy_shares=subsidy, order=GROUPS)
    counted = [i for i in items if i.gov_paid_fen or i.contribution_subsidy_fen]
    for g in totals.groups:
        mine = [i for i in counted if (i.group or NO_GROUP) == g.group]
        assert g.people == len(mine) > 0
        assert g.gov_paid_fen == sum(i.gov_paid_fen for i in mine)
        assert g.contribution_subsidy_fen == sum(i.contribution_subsidy_fen for i in mine)
        assert sum(g.gov_paid_by_level.values()) == g.gov_paid_fen
        assert sum(g.contribution_subsidy_by_level.values()) == g.contribution_subsidy_fen
    assert {g.group for g in totals.groups} == {i.group or NO_GROUP for i in counted}
    total = totals.total
    assert total.people == len(counted)
    assert total.gov_paid_fen == sum(i.gov_paid_fen for i in items)
    assert total.contribution_subsidy_fen == sum(i.contribution_subsidy_fen for i in items)
    for level in LEVELS:
        assert total.gov_paid_by_level[level] == sum(
            g.gov_paid_by_level[level] for g in totals.groups
        )
    assert sum(total.gov_paid_by_level.values()) == total.gov_paid_fen
    assert sum(total.contribution_subsidy_by_level.values()) == total.contribution_subsidy_fen
