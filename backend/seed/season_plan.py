"""The demo season's plan: which households paid what, on which day, how, and what followed.

Pure and deterministic: the same people, seed and day give the same plan, to the order number
and the second, whatever the database holds (backend.seed.season writes it). Each household pays
each scheme at most once, in one order for all its members' registrations of that scheme, at a
rate that depends on its county (some far behind, some ahead) and on a day drawn from the scheme's
campaign curve (pension pressed towards the end of October, medical towards the end of November).
Amounts come from the order service's own pricing (backend.orders.pricing), on the day paid.
"""

from __future__ import annotations

import hashlib
import random
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta

from backend.errors import DomainError
from backend.fees import PolicyBook
from backend.infra.idempotency import request_hash
from backend.orders.creation import MAX_ITEMS
from backend.orders.pricing import PricedItem, RegistrationToPrice, price_item
from backend.seed.population import GROUP_YEAR, Person
from backend.states.registrations import RegistrationStatus
from backend.values.beijing import BEIJING, beijing_today, compact_text
from backend.values.labels import SCHEME_SHORT
from backend.values.region_codes import county_of

SEASON_START = date(2019, 9, 1)  # the demo policy's window opens
# The agencies imported the registrations the week before the window opened.
REGISTERED_AT = datetime(2019, 8, 26, 9, 0, tzinfo=BEIJING)
PENSION_TARGET = date(2019, 10, 31)  # the work plan's targets (policy file: deadline)
MEDICAL_TARGET = date(2019, 11, 30)
# Share of households that have paid each scheme on their phone by the demo day, per county:
# (pension, medical). 原阳县 and 封丘县 lag far behind, 新乡县 and 长垣市 lead.
COUNTY_PACE: dict[str, tuple[float, float]] = {
    "410702": (0.55, 0.62),  # 红旗区
    "410703": (0.48, 0.57),  # 卫滨区
    "410704": (0.35, 0.41),  # 凤泉区
    "410711": (0.60, 0.66),  # 牧野区
    "410721": (0.74, 0.80),  # 新乡县
    "410724": (0.44, 0.50),  # 获嘉县
    "410725": (0.16, 0.20),  # 原阳县
    "410726": (0.39, 0.47),  # 延津县
    "410727": (0.10, 0.14),  # 封丘县
    "410781": (0.52, 0.58),  # 卫辉市
    "410782": (0.46, 0.53),  # 辉县市
    "410783": (0.68, 0.72),  # 长垣市
}
DEFAULT_PACE = (0.4, 0.45)
NATIVE_SHARE = 0.3  # paid by scanning the village poster rather than in the mini-program
# Pension grades people pick (None: the lowest open to them), with weights.
GRADES: tuple[tuple[int | None, int], ...] = (
    (None, 60),
    (300, 10),
    (500, 15),
    (1000, 10),
    (2000, 5),
)
PAYING_HOURS = (7, 23)  # payments between 07:00 and 22:59
ENTERED_AFTER_DAYS = (1, 3)  # the bureau confirms the treasury entry one to three days later
REFUND_EVERY = 400  # about one payment in this many is given back
REFUND_WITHIN_DAYS = 6  # refunds are of payments of the last few days, not yet entered
NOTIFIED_AFTER_S = (1, 4)  # WeChat's notification reaches us this soon after the payment


@dataclass(frozen=True)
class PlannedRefund:
    registration_ref: str
    requested_at: datetime
    succeeded_at: datetime
    platform_refund_id: str  # WeChat's refund_id


@dataclass(frozen=True)
class PlannedEntry:
    """The bureau's confirmation of one paid registration's treasury entry."""

    registration_ref: str
    entered_at: datetime
    ledger_ref: str
    tax_receipt_no: str


@dataclass(frozen=True)
class PlannedOrder:
    order_no: str
    openid: str
    trade_type: str
    household_no: str
    county_code: str  # 12 digits, as orders keep it
    items: tuple[PricedItem, ...]  # registration_id 0 until the writer knows the row
    created_at: datetime
    paid_at: datetime  # WeChat's time_end
    notified_at: datetime  # when its notification credited it here
    transaction_id: str
    # "paid"; "lost": WeChat took the money, its notification never came and the order expired
    # here (reconciliation: missing_in_ours); "amount_mismatch": WeChat's bill shows another amount.
    kind: str = "paid"
    billed_fen: int | None = None  # what WeChat's bill shows, when not total_fen
    entries: tuple[PlannedEntry, ...] = ()
    refund: PlannedRefund | None = None

    @property
    def total_fen(self) -> int:
        return sum(item.amount_fen for item in self.items)

    @property
    def day(self) -> date:
        return beijing_today(self.paid_at)

    @property
    def description(self) -> str:
        return f"城乡居民{SCHEME_SHORT[self.items[0].scheme]}缴费"

    @property
    def request_hash(self) -> str:
        """As the order service digests the request that made it."""
        return request_hash(
            items=sorted([i.registration_ref, i.grade_yuan or 0] for i in self.items),
            trade_type=self.trade_type,
        )


@dataclass(frozen=True)
class Plan:
    orders: tuple[PlannedOrder, ...]
    planted_on: date | None  # the day whose bill holds the planted discrepancies

    def of_kind(self, kind: str) -> list[PlannedOrder]:
        return [o for o in self.orders if o.kind == kind]


def plan_season(
    persons: Iterable[Person],
    *,
    seed: int,
    now: datetime,
    book: PolicyBook,
    leave_unpaid: frozenset[str] = frozenset(),
) -> Plan:
    """The season from SEASON_START up to `now`'s hour; households in `leave_unpaid` never pay
    (the people the seed offers to try).

    Planning to the hour, not the second, gives the same plan to every run within the hour: the
    demo's clock starts at the same hour on every `make run`.
    """
    now = now.replace(minute=0, second=0, microsecond=0)
    today = beijing_today(now)
    households: dict[str, list[Person]] = defaultdict(list)
    for person in persons:
        if person.household_no not in leave_unpaid:
            households[person.household_no].append(person)
    curves = {scheme: _curve(scheme, today) for scheme in ("pension", "medical")}
    orders = []
    for household_no in sorted(households):
        members = households[household_no]
        for index, scheme in enumerate(("pension", "medical")):
            rng = random.Random(f"season:{seed}:{household_no}:{scheme}")
            pace = COUNTY_PACE.get(members[0].village_code[:6], DEFAULT_PACE)[index]
            if not curves[scheme][0] or rng.random() >= pace:
                continue
            day = rng.choices(*curves[scheme])[0]
            order = _order(rng, seed, household_no, members, scheme, day, now, book)
            if order is not None:
                orders.append(order)
    orders.sort(key=lambda o: (o.paid_at, o.order_no))
    orders, planted_on = _plant(orders, today)
    return Plan(tuple(_refunds(orders, seed, now)), planted_on)


def _curve(scheme: str, today: date) -> tuple[list[date], list[float]]:
    """The days one can have paid on and how likely each is: rising towards the target, a
    trickle after it."""
    target = PENSION_TARGET if scheme == "pension" else MEDICAL_TARGET
    days, weights = [], []
    day = SEASON_START
    while day <= today:
        share = (day - SEASON_START).days / (target - SEASON_START).days
        weights.append(1 + 3 * share if day <= target else 0.6)
        days.append(day)
        day += timedelta(days=1)
    return days, weights


def _order(
    rng: random.Random,
    seed: int,
    household_no: str,
    members: list[Person],
    scheme: str,
    day: date,
    now: datetime,
    book: PolicyBook,
) -> PlannedOrder | None:
    paid_at = _moment(rng, day, now)
    if paid_at is None:
        return None
    grade = rng.choices(*zip(*GRADES, strict=True))[0] if scheme == "pension" else None
    items = [
        item
        for person in members
        for reg in person.registrations
        if reg.scheme == scheme
        and (item := _priced(book, person, reg, grade, beijing_today(paid_at))) is not None
    ][:MAX_ITEMS]
    if not items:
        return None
    created_at = paid_at - timedelta(seconds=rng.randint(40, 600))
    notified_at = paid_at + timedelta(seconds=rng.randint(*NOTIFIED_AFTER_S))
    entries = []
    for item in items:
        entered_at = datetime.combine(
            beijing_today(paid_at) + timedelta(days=rng.randint(*ENTERED_AFTER_DAYS)),
            time(10),
            BEIJING,
        ) + timedelta(seconds=rng.randint(0, 6 * 3600))
        if entered_at < now:
            entries.append(
                PlannedEntry(
                    registration_ref=item.registration_ref,
                    entered_at=entered_at,
                    ledger_ref=f"L{entered_at:%Y%m%d}{rng.getrandbits(48):012X}",
                    tax_receipt_no=f"4107{entered_at:%y}{rng.randrange(10**14):014d}",
                )
            )
    return PlannedOrder(
        order_no=f"SI{compact_text(created_at)}{rng.randrange(10**10):010d}",
        openid="o" + hashlib.sha256(f"season:{seed}:{household_no}".encode()).hexdigest()[:27],
        trade_type="NATIVE" if rng.random() < NATIVE_SHARE else "JSAPI",
        household_no=household_no,
        county_code=county_of(items[0].village_code),
        items=tuple(items),
        created_at=created_at,
        paid_at=paid_at,
        notified_at=notified_at,
        transaction_id=(
            f"42000{rng.randrange(10**5):05d}{paid_at.astimezone(BEIJING):%Y%m%d}"
            f"{rng.randrange(10**10):010d}"
        ),
        entries=tuple(entries),
    )


def _moment(rng: random.Random, day: date, now: datetime) -> datetime | None:
    """A whole second of `day` in paying hours, at least ten minutes before `now`."""
    start = datetime.combine(day, time(PAYING_HOURS[0]), BEIJING)
    end = min(datetime.combine(day, time(PAYING_HOURS[1] - 1, 59, 59), BEIJING), now)
    end -= timedelta(minutes=10)
    if end <= start:
        return None
    return start + timedelta(seconds=rng.randint(0, int((end - start).total_seconds())))


def _priced(book: PolicyBook, person: Person, reg, grade: int | None, day: date):
    """The item as the order service would price it that day, or None when it cannot be paid
    (the government pays it all, not eligible, ...)."""
    asked = RegistrationToPrice(
        id=0,
        ref=reg.ref,
        scheme=reg.scheme,
        period_year=reg.period_year,
        status=RegistrationStatus.UNPAID.value,
        village_code=person.village_code,
        is_student=reg.school_code is not None,
        enrollee_id=0,
        holder_name=person.name,
        birth_date=person.birth_date,
        groups_by_year={GROUP_YEAR: frozenset(person.group_names)},
    )
    try:
        return price_item(book, asked, grade_yuan=grade, today=day)
    except DomainError:
        if grade is None:
            return None
        return _priced(book, person, reg, None, day)  # a grade not open to them: the lowest


def _plant(orders: list[PlannedOrder], today: date) -> tuple[list[PlannedOrder], date | None]:
    """On the last day before today with two payments or more (yesterday, but for a tiny
    season), the first payment lost its notification and the second is billed 1 yuan more."""
    by_day: dict[date, list[int]] = defaultdict(list)
    for i, order in enumerate(orders):
        by_day[order.day].append(i)
    days = [day for day in sorted(by_day, reverse=True) if day < today and len(by_day[day]) >= 2]
    if not days:
        return orders, None
    of_day = by_day[days[0]]
    lost, mismatch = of_day[0], of_day[1]
    orders = list(orders)
    orders[lost] = replace(orders[lost], kind="lost", entries=())
    orders[mismatch] = replace(
        orders[mismatch],
        kind="amount_mismatch",
        billed_fen=orders[mismatch].total_fen + 100,
        entries=(),
    )
    return orders, days[0]


def _refunds(orders: list[PlannedOrder], seed: int, now: datetime) -> list[PlannedOrder]:
    """A few recent payments given back in full (one registration each), before their
    treasury entry."""
    today = beijing_today(now)
    recent = [
        i
        for i, o in enumerate(orders)
        if o.kind == "paid" and 0 < (today - o.day).days <= REFUND_WITHIN_DAYS
    ]
    rng = random.Random(f"season:{seed}:refunds")
    count = min(len(recent), max(2, len(orders) // REFUND_EVERY))
    for i in sorted(rng.sample(recent, count)):
        order = orders[i]
        requested_at = order.paid_at + timedelta(hours=rng.randint(20, 30))
        if requested_at >= now - timedelta(minutes=10):
            requested_at = order.paid_at + timedelta(minutes=30)
        succeeded_at = requested_at + timedelta(seconds=rng.randint(30, 300))
        if succeeded_at >= now:
            continue
        orders[i] = replace(
            order,
            entries=(),
            refund=PlannedRefund(
                registration_ref=order.items[0].registration_ref,
                requested_at=requested_at,
                succeeded_at=succeeded_at,
                platform_refund_id=(
                    f"50300{rng.randrange(10**6):06d}{succeeded_at.astimezone(BEIJING):%Y%m%d}"
                    f"{rng.randrange(10**10):010d}"
                ),
            ),
        )
    return orders
