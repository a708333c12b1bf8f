"""Contribution policy as data: load the per-year, per-region TOML files into SchemePolicy objects.

Layout: ``<policies>/<collection_year>/<region6>.toml``. A city file is named by its first four
digits plus ``00`` (``410700``); a county file carries its own code (``410721``) and is deep-merged
over the city file of the same year: tables merge key by key, scalars and arrays replace. Amounts in
the files are whole yuan and become integer fen here. Every file is validated when the book loads,
so bad data fails at start-up with the file and key named, never in the middle of a payment.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, NoReturn

from backend.values.labels import SCHEME_NAMES
from backend.values.money import FEN_PER_YUAN

SCHEMES = ("pension", "medical")
# Glossary order; it also breaks ties when two groups are equally generous.
GROUPS = ("tekun", "dibao", "poverty", "disabled_severe", "child_in_distress", "orphan")
# How sure the data is, as stated beside each value (``<key>_tag``).
TAGS = frozenset({"confirmed", "inferred", "assumed"})
# In a medical gov_paid table: the government pays the whole individual share, whatever it is.
FULL_SHARE = "full"
# The levels of government that share what the government pays (财政配套), in payment order.
LEVELS = ("province", "city", "county")
DEFAULT_DIRECTORY = Path(__file__).parent / "policies"

_YEAR_DIR = re.compile(r"\d{4}")
_REGION_FILE = re.compile(r"\d{6}")


class PolicyNotFound(LookupError):
    """No policy file covers that region, year and scheme."""


@dataclass(frozen=True)
class Grade:
    """One pension contribution grade."""

    yuan: int
    subsidy_fen: int  # contribution_subsidy credited to the account for paying this grade
    special_only: bool  # the retained lowest grade, open only to groups the government pays for


@dataclass(frozen=True)
class GroupAid:
    """What the government pays per year on behalf of one special group."""

    group: str
    label: str
    gov_paid_fen: int


@dataclass(frozen=True)
class Funding:
    """How each kind of government money is shared between LEVELS, in whole percent adding up
    to 100: as ((level, percent), ...) in LEVELS order."""

    gov_paid: tuple[tuple[str, int], ...]
    contribution_subsidy: tuple[tuple[str, int], ...] = ()  # pension only


@dataclass(frozen=True)
class SchemePolicy:
    """Everything needed to price one scheme x period_year in one region.

    Fields of the other scheme hold neutral values: medical has no grades and no age limits,
    pension has no flat share and is paid one year at a time.
    """

    region: str  # 6-digit code of the most specific file that applied
    scheme: str
    label: str
    collection_year: int
    period_year: int
    deadline: date
    window: tuple[date, date]  # collection opens / last day anything can be paid
    aid: tuple[GroupAid, ...]  # in GROUPS order
    sources: tuple[str, ...]  # policy files merged into this one, city first
    grades: tuple[Grade, ...] = ()  # ascending; pension only
    min_age: int | None = None  # on 1 January of period_year
    max_age: int | None = None
    students_eligible: bool = True
    share_fen: int = 0  # flat individual share per year; medical only
    students_multi_year: bool = False
    max_years: int = 1
    funding: Funding | None = None  # None: the file does not say how the levels share it


@dataclass(frozen=True)
class _Layer:
    name: str  # path relative to the policy directory, e.g. "2019/410700.toml"
    data: dict[str, Any]


class _Table:
    """A merged TOML table that remembers its layers, so an error names the file that set the value."""

    def __init__(self, data: dict[str, Any], path: tuple[str, ...], layers: tuple[_Layer, ...]):
        self.data = data
        self.path = path
        self.layers = layers  # most specific first

    def fail(self, key: str, problem: str) -> NoReturn:
        keys = (*self.path, key)
        raise ValueError(f"{self._origin(keys)}: {'.'.join(keys)}: {problem}")

    def _origin(self, keys: tuple[str, ...]) -> str:
        for layer in self.layers:
            node: Any = layer.data
            for key in keys:
                if not isinstance(node, dict) or key not in node:
                    break
                node = node[key]
            else:
                return layer.name
        # Missing everywhere: any of the layers could have supplied it.
        return " over ".join(layer.name for layer in self.layers)

    def check_keys(self, known: Iterable[str]) -> None:
        """Reject unknown keys (typos would otherwise silently fall back to the city value)."""
        known = set(known)
        for key, value in self.data.items():
            if key.endswith("_tag") and key.removesuffix("_tag") in known:
                if value not in TAGS:
                    self.fail(key, f"must be one of {', '.join(sorted(TAGS))}, got {value!r}")
            elif key.endswith("_source") and key.removesuffix("_source") in known:
                if not isinstance(value, str) or not value.strip():
                    self.fail(key, "must name the document the value comes from")
            elif key not in known:
                self.fail(key, "unknown key")

    def get(self, key: str) -> Any:
        if key not in self.data:
            self.fail(key, "missing")
        return self.data[key]

    def table(self, key: str) -> _Table:
        value = self.get(key)
        if not isinstance(value, dict):
            self.fail(key, "must be a table")
        return _Table(value, (*self.path, key), self.layers)

    def integer(self, key: str, *, minimum: int = 0) -> int:
        return self.check_integer(key, self.get(key), minimum=minimum)

    def check_integer(self, key: str, value: Any, *, minimum: int = 0) -> int:
        # bool is an int subclass and a float may look whole (250.0): neither is an amount.
        if type(value) is not int:
            self.fail(key, f"must be an integer, got {value!r}")
        if value < minimum:
            self.fail(key, f"must be at least {minimum}, got {value}")
        return value

    def yuan_as_fen(self, key: str, value: Any, *, minimum: int = 0) -> int:
        return self.check_integer(key, value, minimum=minimum) * FEN_PER_YUAN

    def yuan_list(self, key: str, *, allow_empty: bool = False) -> tuple[int, ...]:
        values = self.get(key)
        if not isinstance(values, list) or not (values or allow_empty):
            self.fail(key, "must be a non-empty array of whole yuan")
        checked = tuple(self.check_integer(key, v, minimum=1) for v in values)
        if list(checked) != sorted(set(checked)):
            self.fail(key, "must be strictly ascending")
        return checked

    def boolean(self, key: str) -> bool:
        value = self.get(key)
        if type(value) is not bool:
            self.fail(key, f"must be true or false, got {value!r}")
        return value

    def day(self, key: str) -> date:
        value = self.get(key)
        # datetime is a date subclass; a time of day has no meaning for a deadline.
        if not isinstance(value, date) or isinstance(value, datetime):
            self.fail(key, f"must be a date like 2019-12-31, got {value!r}")
        return value

    def text(self, key: str) -> str:
        value = self.get(key)
        if not isinstance(value, str) or not value.strip():
            self.fail(key, "must be a non-empty string")
        return value


def _deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _read_layer(directory: Path, path: Path) -> _Layer:
    name = path.relative_to(directory).as_posix()
    try:
        with path.open("rb") as f:
            data = tomllib.load(f)
    except tomllib.TOMLDecodeError as e:
        raise ValueError(f"{name}: not valid TOML: {e}") from e
    return _Layer(name, data)


def _group_aid(
    table: _Table, labels: Mapping[str, str], share_fen: int | None
) -> tuple[GroupAid, ...]:
    """Read a gov_paid_yuan table; ``share_fen`` is set where "full" is allowed (medical)."""
    for group in table.data:
        if group not in GROUPS:
            table.fail(group, f"unknown group; known: {', '.join(GROUPS)}")
    aid = []
    for group in GROUPS:
        if group not in table.data:
            continue
        value = table.data[group]
        if value == FULL_SHARE and share_fen is not None:
            fen = share_fen
        else:
            fen = table.yuan_as_fen(group, value)
        aid.append(GroupAid(group, labels[group], fen))
    return tuple(aid)


def _group_labels(root: _Table) -> dict[str, str]:
    """The special groups' names as this region's lists write them. The schemes' names are the
    national ones (backend.values.labels), not policy data."""
    labels = root.table("labels")
    labels.check_keys(("groups",))
    groups = labels.table("groups")
    groups.check_keys(GROUPS)
    return {g: groups.text(g) for g in GROUPS}


def _build(
    layers: tuple[_Layer, ...], region: str, collection_year: int
) -> tuple[tuple[date, date], list[SchemePolicy]]:
    """Validate one merged region-year and turn it into its window and scheme policies."""
    data: dict[str, Any] = {}
    for layer in reversed(layers):
        data = _deep_merge(data, layer.data)
    root = _Table(data, (), layers)
    root.check_keys(("calendar", "labels", *SCHEMES))

    calendar = root.table("calendar")
    calendar.check_keys(("window_start", "window_end"))
    window = (calendar.day("window_start"), calendar.day("window_end"))
    if window[0] > window[1]:
        calendar.fail("window_end", "is before window_start")
    group_labels = _group_labels(root)

    policies = []
    for scheme in SCHEMES:
        if scheme not in data:
            continue
        t = root.table(scheme)
        period_year = t.integer("period_year")
        # Pension is paid for the collection year, medical for the coverage year after it.
        if not collection_year <= period_year <= collection_year + 1:
            t.fail("period_year", f"must be {collection_year} or {collection_year + 1}")
        deadline = t.day("deadline")
        if not window[0] <= deadline <= window[1]:
            t.fail("deadline", f"must fall inside the collection window {window[0]}..{window[1]}")
        common = {
            "region": region,
            "scheme": scheme,
            "label": SCHEME_NAMES[scheme],
            "collection_year": collection_year,
            "period_year": period_year,
            "deadline": deadline,
            "window": window,
            "sources": tuple(layer.name for layer in reversed(layers)),
        }
        if scheme == "pension":
            policies.append(_pension(t, group_labels, common))
        else:
            policies.append(_medical(t, group_labels, common))
    return window, policies


def _pension(t: _Table, group_labels: Mapping[str, str], common: dict[str, Any]) -> SchemePolicy:
    t.check_keys(
        (
            "period_year",
            "deadline",
            "min_age",
            "max_age",
            "students_eligible",
            "grades_yuan",
            "special_grades_yuan",
            "subsidy_by_grade_yuan",
            "gov_paid_yuan",
            "funding",
        )
    )
    min_age, max_age = t.integer("min_age"), t.integer("max_age")
    if min_age > max_age:
        t.fail("max_age", "is below min_age")
    open_grades = set(t.yuan_list("grades_yuan"))
    special = set(t.yuan_list("special_grades_yuan", allow_empty=True))
    if open_grades & special:
        t.fail("special_grades_yuan", "repeats a grade of grades_yuan")
    subsidies = t.table("subsidy_by_grade_yuan")
    # A county that drops a grade cannot delete the city's subsidy entry, so extra entries are fine.
    subsidy_fen: dict[int, int] = {}
    for key, value in subsidies.data.items():
        if not key.isdigit():
            subsidies.fail(key, "must be a grade in whole yuan")
        subsidy_fen[int(key)] = subsidies.yuan_as_fen(key, value)
    grades = []
    for yuan in sorted(open_grades | special):
        if yuan not in subsidy_fen:
            subsidies.fail(str(yuan), "missing")
        grades.append(Grade(yuan, subsidy_fen[yuan], special_only=yuan in special))
    aid = _group_aid(t.table("gov_paid_yuan"), group_labels, share_fen=None)
    if special and not any(a.gov_paid_fen for a in aid):
        t.fail("special_grades_yuan", "no group in gov_paid_yuan could choose them")
    return SchemePolicy(
        **common,
        aid=aid,
        grades=tuple(grades),
        min_age=min_age,
        max_age=max_age,
        students_eligible=t.boolean("students_eligible"),
        funding=_funding(t, ("gov_paid_percent", "contribution_subsidy_percent")),
    )


def _medical(t: _Table, group_labels: Mapping[str, str], common: dict[str, Any]) -> SchemePolicy:
    t.check_keys(
        (
            "period_year",
            "deadline",
            "individual_yuan",
            "students_multi_year",
            "max_years",
            "gov_paid_yuan",
            "funding",
        )
    )
    share_fen = t.yuan_as_fen("individual_yuan", t.get("individual_yuan"), minimum=1)
    multi_year = t.boolean("students_multi_year")
    max_years = t.integer("max_years", minimum=1)
    return SchemePolicy(
        **common,
        aid=_group_aid(t.table("gov_paid_yuan"), group_labels, share_fen=share_fen),
        share_fen=share_fen,
        students_multi_year=multi_year,
        max_years=max_years if multi_year else 1,
        funding=_funding(t, ("gov_paid_percent",)),
    )


def _funding(t: _Table, kinds: tuple[str, ...]) -> Funding | None:
    """A scheme's optional [funding] table: per kind of money, each level's whole percent."""
    if "funding" not in t.data:
        return None
    funding = t.table("funding")
    funding.check_keys(kinds)
    shares = []
    for kind in kinds:
        table = funding.table(kind)
        table.check_keys(LEVELS)
        split = tuple((level, table.integer(level)) for level in LEVELS)
        total = sum(percent for _, percent in split)
        if total != 100:
            funding.fail(kind, f"must add up to 100, got {total}")
        shares.append(split)
    return Funding(*shares)


def _region6(region_code: str) -> tuple[str | None, str]:
    """The county and city file names a region code falls under."""
    if not (isinstance(region_code, str) and region_code.isdigit() and len(region_code) >= 4):
        raise ValueError(f"region code must be at least 4 digits, got {region_code!r}")
    city = region_code[:4] + "00"
    county = region_code[:6] if len(region_code) >= 6 and region_code[:6] != city else None
    return county, city


class PolicyBook:
    """All policy files of a directory, validated and merged, looked up by region and year."""

    def __init__(
        self,
        policies: Mapping[tuple[str, str, int], SchemePolicy],
        windows: Mapping[tuple[str, int], tuple[date, date]],
    ) -> None:
        self._policies = dict(policies)  # (region6, scheme, period_year)
        self._windows = dict(windows)  # (region6, collection_year)

    @classmethod
    def load(cls, directory: Path | None = None) -> PolicyBook:
        """Read every ``<year>/<region6>.toml`` under ``directory`` (default: the packaged policies).

        Raises ValueError naming the file and key on bad data.
        """
        directory = Path(directory) if directory is not None else DEFAULT_DIRECTORY
        if not directory.is_dir():
            raise FileNotFoundError(f"policy directory {directory} does not exist")
        files: dict[tuple[int, str], _Layer] = {}
        for path in sorted(directory.glob("*/*.toml")):
            layer = _read_layer(directory, path)
            if not (_YEAR_DIR.fullmatch(path.parent.name) and _REGION_FILE.fullmatch(path.stem)):
                raise ValueError(f"{layer.name}: must be named <collection_year>/<region6>.toml")
            files[(int(path.parent.name), path.stem)] = layer

        policies: dict[tuple[str, str, int], SchemePolicy] = {}
        windows: dict[tuple[str, int], tuple[date, date]] = {}
        for (year, region), layer in files.items():
            city = files.get((year, region[:4] + "00"))
            layers = (layer,) if city is None or city is layer else (layer, city)
            window, scheme_policies = _build(layers, region, year)
            windows[(region, year)] = window
            for policy in scheme_policies:
                key = (region, policy.scheme, policy.period_year)
                if key in policies:
                    raise ValueError(
                        f"{layer.name}: {policy.scheme}.period_year: {policy.period_year} is also"
                        f" priced by {policies[key].sources[-1]}"
                    )
                policies[key] = policy
        return cls(policies, windows)

    def scheme_policy(self, region_code: str, scheme: str, period_year: int) -> SchemePolicy:
        """The policy for a region (12-digit code or a prefix of at least 4 digits).

        The county file (first 6 digits) wins over the city file (first 4 digits + "00").
        """
        county, city = _region6(region_code)
        for region in (county, city):
            policy = self._policies.get((region, scheme, period_year)) if region else None
            if policy is not None:
                return policy
        raise PolicyNotFound(f"no {scheme} policy for period_year {period_year} in {region_code}")

    def collection_window(self, region_code: str, collection_year: int) -> tuple[date, date]:
        """First and last day of collection (the last day is the deadline for everything)."""
        county, city = _region6(region_code)
        for region in (county, city):
            window = self._windows.get((region, collection_year)) if region else None
            if window is not None:
                return window
        raise PolicyNotFound(f"no policy for collection year {collection_year} in {region_code}")

    def collection_years(self, region_code: str) -> tuple[int, ...]:
        """The collection years some policy file covers for a region, ascending."""
        county, city = _region6(region_code)
        return tuple(sorted({year for region, year in self._windows if region in (county, city)}))

    def collection(
        self, region_code: str, collection_year: int
    ) -> tuple[tuple[date, date], tuple[SchemePolicy, ...]]:
        """One collection year in a region: its window and its scheme policies, in SCHEMES order.

        The county file, where there is one, already holds the city's values merged under it.
        """
        county, city = _region6(region_code)
        for region in (county, city):
            window = self._windows.get((region, collection_year)) if region else None
            if window is not None:
                found = [
                    policy
                    for (where, _, _), policy in self._policies.items()
                    if where == region and policy.collection_year == collection_year
                ]
                found.sort(key=lambda p: (SCHEMES.index(p.scheme), p.period_year))
                return window, tuple(found)
        raise PolicyNotFound(f"no policy for collection year {collection_year} in {region_code}")
