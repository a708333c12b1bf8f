import pytest

from backend.values import region_codes as regions


@pytest.mark.parametrize(
    ("code", "level"),
    [
        ("410700000000", "city"),
        ("410721000000", "county"),
        ("410721100000", "township"),
        ("410721100201", "village"),
        ("410721", "county"),
    ],
)
def test_level_is_read_from_the_code(code, level):
    assert regions.level_of(code) == level


def test_a_county_staff_scope_covers_its_villages_only():
    assert regions.in_scope("410721", "410721100201")
    assert not regions.in_scope("410721", "410724100201")
    assert regions.in_scope("410700000000", "410724100201")


def test_a_township_scope_does_not_leak_to_the_next_township():
    assert regions.in_scope("410721100000", "410721100201")
    assert not regions.in_scope("410721100000", "410721101201")


@pytest.mark.parametrize("bad", ["", "41", "41072", "41072110020A", "4107211002011"])
def test_malformed_region_codes_are_rejected(bad):
    with pytest.raises(regions.InvalidRegionCode):
        regions.normalise(bad)
