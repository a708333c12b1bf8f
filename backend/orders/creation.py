"""Creating an order: one payment (a household at once) for registrations the server prices.

Three scopes, in this order, none holding a transaction across the network:

1. Read and price. One compiled query (an autocommit round trip) brings the registrations, their
   holders and special groups, and the order this payer may already have made under this
   Idempotency-Key; the fee engine prices each item from the cached policy, today inside the
   collection window.
2. Write, one transaction: the order, its items holding the registrations, the registrations'
   guarded unpaid -> pending move, the audit entry. The database decides races: one order item
   per registration may hold it (order_item.held_registration_id is unique), one order per payer
   and key, and the guarded move fails for a registration a village collector recorded meanwhile;
   the loser is told which (409).
3. Open the platform trade (a network call, outside any transaction), then keep its answer in one
   statement. A trade the platform refuses closes the order at once, freeing its registrations.
"""

from __future__ import annotations

import functools
import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import (
    Insert,
    Select,
    Update,
    bindparam,
    column,
    func,
    insert,
    select,
    true,
    update,
    values,
)
from sqlalchemy.exc import IntegrityError

from backend.collectors.holds import COLLECTING, drop_holds_collectors_have, held_by_collectors
from backend.enrollees.groups import groups_by_year, memberships_of
from backend.errors import Conflict, Refused, Unavailable
from backend.fees import PolicyBook
from backend.infra import audit
from backend.infra.idempotency import replay_of, request_hash
from backend.infra.statements import Reader, execute_compiled, execute_compiled_many
from backend.infra.uow import UnitOfWork
from backend.models import Enrollee, OrderItem, PaymentOrder, Registration
from backend.orders.channels import CHANNELS
from backend.orders.closing import close_order
from backend.orders.grants import unknown_registrations
from backend.orders.pricing import PricedItem, RegistrationToPrice, price_item
from backend.orders.views import ItemView, OrderView, order_views
from backend.payments.gateway import GatewayError, PaymentGateway, PaymentRequest
from backend.states.orders import OrderStatus
from backend.states.transitions import REGISTRATIONS
from backend.values.beijing import beijing_today, compact_text
from backend.values.labels import SCHEME_SHORT
from backend.values.region_codes import county_of

log = logging.getLogger(__name__)

MAX_ITEMS = 10  # a household rarely has more than five people with two schemes each
IN_USE = "所选参保登记已缴费或正在另一笔订单中支付，请刷新后重试。"


def too_many_open_orders(cap: int) -> Conflict:
    return Conflict(
        f"您已有 {cap} 笔待支付的订单：请先在“我的缴费记录”中完成支付，"
        "或等待未支付的订单关闭（约30分钟）后再下单。",
        reason="too_many_open_orders",
    )


@dataclass(frozen=True)
class ItemRequest:
    registration_ref: str
    grade_yuan: int | None = None


@dataclass(frozen=True)
class OrderRequest:
    openid: str
    idempotency_key: str
    items: tuple[ItemRequest, ...]
    trade_type: str  # JSAPI | NATIVE
    client_ip: str


def new_order_no(now: datetime) -> str:
    """Our out_trade_no: 'SI', Beijing date and time, 10 random digits (26 characters)."""
    return f"SI{compact_text(now)}{secrets.randbelow(10**10):010d}"


def create_order(
    uow: UnitOfWork,
    reader: Reader,
    gateway: PaymentGateway,
    book: PolicyBook,
    ask: OrderRequest,
    *,
    now: datetime,
    ttl: timedelta,
    check_after: timedelta,
    open_orders_cap: int | None = None,
) -> tuple[OrderView, bool]:
    """(the order, replayed). The same key and body again return the first order.

    `ttl`: how long the order waits for its payment; `check_after`: when the poller first asks
    the platform about it, should no notification have come. `open_orders_cap`: how many open
    (unpaid, unexpired) orders the payer may have; one more is refused, so that nobody can hold
    many people's registrations at once. Counted in the read, before the write: two requests at
    the same instant may both pass (the per-payer rate limit bounds how often that can happen).
    """
    digest = request_hash(
        items=sorted([i.registration_ref, i.grade_yuan or 0] for i in ask.items),
        trade_type=ask.trade_type,
    )
    found, replay_id, open_orders = _read(reader, ask, now=now)
    if replay_id is not None:
        return _replayed(uow, replay_id, digest), True
    if open_orders_cap is not None and open_orders >= open_orders_cap:
        raise too_many_open_orders(open_orders_cap)
    _check_items(ask.items)
    try:
        priced = _price(book, ask.items, found, today=beijing_today(now))
    except Conflict as exc:
        if exc.reason == "in_another_order":  # pending: in an order, or with a village collector
            pending = [r.id for r in found.values() if r.status == "pending"]
            with uow as session:
                if held_by_collectors(session, pending):
                    raise _collecting() from None
        raise
    total = sum(p.amount_fen for p in priced)

    order = _new_order(ask, priced, digest, total, now=now, ttl=ttl, check_after=check_after)
    try:
        _write(uow, order, priced, now=now)
    except NotAllHeld:
        # Taken between our read and our write; this request's own order (if written) is closed.
        with uow as session:
            collecting = held_by_collectors(session, [p.registration_id for p in priced])
        taken = _collecting() if collecting else Conflict(IN_USE, reason="in_use", field="items")
        raise taken from None
    except IntegrityError:
        # Either another request with this key won the race, or another order holds one of
        # these registrations: the constraints decided, not a check in Python.
        with uow as session:
            earlier = session.scalar(_BY_KEY, {"openid": ask.openid, "key": ask.idempotency_key})
        if earlier is not None:
            return _replayed(uow, earlier, digest), True
        raise Conflict(IN_USE, reason="in_use", field="items") from None

    started = open_trade(uow, gateway, order, now=now)
    view = OrderView(
        order_no=order["b_order_no"],
        openid=ask.openid,
        status=OrderStatus.CREATED.value,
        status_reason=None,
        trade_type=ask.trade_type,
        total_fen=total,
        created_at=now,
        expires_at=order["b_expires_at"],
        paid_at=None,
        transaction_id=None,
        code_url=started.code_url,
        pay_params=started.client_params,
        items=tuple(
            ItemView(
                registration_ref=p.registration_ref,
                holder_name=p.holder_name,
                village_code=p.village_code,
                scheme=p.scheme,
                period_year=p.period_year,
                grade_yuan=p.grade_yuan,
                amount_fen=p.amount_fen,
                gov_paid_fen=p.gov_paid_fen,
                contribution_subsidy_fen=p.contribution_subsidy_fen,
            )
            for p in priced
        ),
    )
    return view, False


# -- 1. read and price -------------------------------------------------------------------------

_reg, _enr, _ord = Registration.__table__, Enrollee.__table__, PaymentOrder.__table__
_items = OrderItem.__table__
_NOW = bindparam("b_now", type_=_ord.c.updated_at.type)
_BY_KEY = select(_ord.c.id).where(
    _ord.c.openid == bindparam("openid"), _ord.c.idempotency_key == bindparam("key")
)
# The payer's orders still waiting for a payment (an expired one no longer counts, even before
# the poller closes it).
_OPEN_ORDERS = (
    select(func.count())
    .select_from(_ord)
    .where(
        _ord.c.openid == bindparam("openid"),
        _ord.c.status == OrderStatus.CREATED.value,
        _ord.c.expires_at > bindparam("read_now", type_=_ord.c.expires_at.type),
    )
)


@functools.cache
def _pricing_read(count: int):
    """The registrations named by `count` refs, each with its holder, their special groups, the
    order already made under the request's key and the payer's open orders (the same on every
    row)."""
    return (
        select(
            _reg.c.id,
            _reg.c.ref,
            _reg.c.scheme,
            _reg.c.period_year,
            _reg.c.status,
            _reg.c.village_code,
            _reg.c.school_code,
            _reg.c.enrollee_id,
            _enr.c.name,
            _enr.c.birth_date,
            memberships_of(_enr.c.id),
            _BY_KEY.scalar_subquery().label("replay_of"),
            _OPEN_ORDERS.scalar_subquery().label("open_orders"),
        )
        .join(_enr, _enr.c.id == _reg.c.enrollee_id)
        .where(_reg.c.ref.in_([bindparam(f"ref_{i}") for i in range(count)]))
    )


def _read(
    reader: Reader, ask: OrderRequest, *, now: datetime
) -> tuple[dict[str, RegistrationToPrice], int | None, int]:
    """(the registrations by ref, the order replayed, how many open orders the payer has)."""
    refs = list(dict.fromkeys(i.registration_ref for i in ask.items))[:MAX_ITEMS]
    rows = reader.all(
        _pricing_read(len(refs)),
        openid=ask.openid,
        key=ask.idempotency_key,
        read_now=now,
        **{f"ref_{i}": ref for i, ref in enumerate(refs)},
    )
    if not rows:  # no registration found: only a replay can still answer
        replay = reader.all(_BY_KEY, openid=ask.openid, key=ask.idempotency_key)
        return {}, replay[0].id if replay else None, 0
    found = {
        row.ref: RegistrationToPrice(
            id=row.id,
            ref=row.ref,
            scheme=row.scheme,
            period_year=row.period_year,
            status=row.status,
            village_code=row.village_code,
            is_student=row.school_code is not None,
            enrollee_id=row.enrollee_id,
            holder_name=row.name,
            birth_date=row.birth_date,
            groups_by_year=groups_by_year(row.memberships),
        )
        for row in rows
    }
    return found, rows[0].replay_of, rows[0].open_orders


class NotAllHeld(Exception):
    """The guarded hold found a registration no longer unpaid: another holder took it between
    our read and our write (not another order: the unique hold would have refused the write)."""


def _collecting() -> Conflict:
    return Conflict(COLLECTING, reason="held_by_collector", field="items")


def _check_items(items: Sequence[ItemRequest]) -> None:
    if not items:
        raise Refused("请至少选择一项参保登记。", reason="no_items", field="items")
    if len(items) > MAX_ITEMS:
        raise Refused(f"一笔订单最多支付 {MAX_ITEMS} 项。", reason="too_many_items", field="items")
    refs = [i.registration_ref for i in items]
    if len(set(refs)) != len(refs):
        raise Refused("同一参保登记在订单中出现了两次。", reason="repeated_item", field="items")


def _price(
    book: PolicyBook, items: Sequence[ItemRequest], found: dict[str, RegistrationToPrice], *, today
) -> list[PricedItem]:
    missing = [i.registration_ref for i in items if i.registration_ref not in found]
    if missing:
        raise unknown_registrations(missing)
    return [
        price_item(book, found[i.registration_ref], grade_yuan=i.grade_yuan, today=today)
        for i in items
    ]


def _replayed(uow: UnitOfWork, order_id: int, digest: str) -> OrderView:
    with uow as session:
        stored = session.scalar(
            select(PaymentOrder.request_hash).where(PaymentOrder.id == order_id)
        )
        replay_of(stored, digest, what="订单")
        return order_views(session, PaymentOrder.id == order_id)[0]


# -- 2. write ----------------------------------------------------------------------------------
#
# The order, its items holding the registrations, the registrations' `hold` move and the audit
# entry. Built once (building a statement costs more CPU than PostgreSQL spends running it): on
# any database as statements in one transaction; on PostgreSQL chained in one statement
# (data-modifying CTEs), one round trip, atomic on its own. Either way the unique index on
# order_item.held_registration_id decides a race for a registration: registrations are unpaid
# exactly when no item holds them, since every move of a status also moves the hold.

_ORDER_VALUES = (
    "order_no",
    "openid",
    "idempotency_key",
    "request_hash",
    "trade_type",
    "total_fen",
    "description",
    "client_ip",
    "expires_at",
    "next_check_at",
    "county_code",
)
_INSERT_ORDER = (
    insert(_ord)
    .values(
        status=OrderStatus.CREATED.value,
        created_at=_NOW,
        updated_at=_NOW,
        **{name: bindparam(f"b_{name}", type_=_ord.c[name].type) for name in _ORDER_VALUES},
        # NULL unless given: a resident's order is of its trade type's channel.
        channel=bindparam("b_channel", None, type_=_ord.c.channel.type),
    )
    .returning(_ord.c.id, _ord.c.county_code)
)
_ITEM_VALUES = (
    "registration_id",
    "scheme",
    "period_year",
    "grade_yuan",
    "amount_fen",
    "gov_paid_fen",
    "contribution_subsidy_fen",
)


def _hold(registration_ids) -> Update:
    return REGISTRATIONS.statement("hold", _reg.c.id.in_(registration_ids), updated_at=_NOW)


def _audit_created(county_code) -> Insert:
    return audit.entry_statement(
        "order.create", occurred_at=_NOW, target_param="b_order_no", region_code=county_code
    )


# Any database: one statement after another, the order's id carried between them.
_INSERT_ITEM = insert(_items).values(
    order_id=bindparam("b_order_id"),
    held_registration_id=bindparam("b_registration_id"),
    **{name: bindparam(f"b_{name}", type_=_items.c[name].type) for name in _ITEM_VALUES},
)
_HOLD = _hold(select(_items.c.registration_id).where(_items.c.order_id == bindparam("b_id")))
_AUDIT_CREATED = _audit_created(bindparam("b_county_code", type_=_ord.c.county_code.type))


@functools.cache
def _write_at_once(count: int) -> Select:
    """PostgreSQL: the same writes for `count` items as one statement; (order id, held)."""
    placed = _INSERT_ORDER.cte("placed")
    asked = values(
        *(column(name, _items.c[name].type) for name in _ITEM_VALUES), name="asked"
    ).data(
        [
            tuple(bindparam(f"b_{name}_{i}", type_=_items.c[name].type) for name in _ITEM_VALUES)
            for i in range(count)
        ]
    )
    items = (
        insert(_items)
        .from_select(
            ["order_id", "held_registration_id", *_ITEM_VALUES],
            select(
                placed.c.id, asked.c.registration_id, *(asked.c[name] for name in _ITEM_VALUES)
            ).select_from(placed.join(asked, true())),
        )
        .returning(_items.c.registration_id)
        .cte("items")
    )
    held = _hold(select(items.c.registration_id)).cte("held")
    # What the chain wrote is seen through its RETURNING only (one snapshot for all of it).
    audited = _audit_created(placed.c.county_code)
    return select(
        placed.c.id, select(func.count()).select_from(held).scalar_subquery().label("held")
    ).add_cte(audited.cte("audited"))


def _new_order(
    ask: OrderRequest,
    priced: list[PricedItem],
    digest: str,
    total: int,
    *,
    now: datetime,
    ttl: timedelta,
    check_after: timedelta,
) -> dict:
    schemes = "、".join(SCHEME_SHORT[s] for s in SCHEME_SHORT if any(p.scheme == s for p in priced))
    return order_values(
        payer=ask.openid,
        idempotency_key=ask.idempotency_key,
        request_hash=digest,
        trade_type=ask.trade_type,
        total_fen=total,
        description=f"城乡居民{schemes}缴费",
        client_ip=ask.client_ip,
        county_code=county_of(priced[0].village_code),
        now=now,
        ttl=ttl,
        check_after=check_after,
    )


def order_values(
    *,
    payer: str,
    idempotency_key: str,
    request_hash: str,
    trade_type: str,
    total_fen: int,
    description: str,
    client_ip: str,
    county_code: str,
    now: datetime,
    ttl: timedelta,
    check_after: timedelta,
    channel: str | None = None,
) -> dict:
    """A new order as the write statements and `open_trade` take it. `payer`: the openid of a
    resident, or a marker of who else pays (a school: 'school:<code>'); with the key it finds a
    replayed request. `channel`: None for a resident's order (its trade type's channel)."""
    return {
        "b_order_no": new_order_no(now),
        "b_openid": payer,
        "b_idempotency_key": idempotency_key,
        "b_request_hash": request_hash,
        "b_trade_type": trade_type,
        "b_channel": channel,
        "b_total_fen": total_fen,
        "b_description": description,
        "b_client_ip": client_ip,
        "b_expires_at": now + ttl,
        "b_next_check_at": min(now + check_after, now + ttl),
        "b_county_code": county_code,
        "b_now": now,
    }


def write_order(
    connection, order: dict, priced: Sequence[PricedItem], *, actor: str, detail: dict
) -> int:
    """Write `order` (from order_values) in the caller's transaction, on any database: the order,
    its items holding the registrations `priced`, their hold and the audit entry; the order's id.
    Conflict (or IntegrityError) when another order holds one of them or one is paid; the caller's
    transaction then rolls back."""
    _write_statements(
        connection, order, list(priced), {**order, "b_actor": actor, "b_detail": detail}
    )
    return order["id"]


def _write(uow: UnitOfWork, order: dict, priced: list[PricedItem], *, now: datetime) -> None:
    """Write the order; IntegrityError when another order holds a registration (or won this
    key), NotAllHeld when one was taken otherwise (the order is then closed, or never written)."""
    values = {
        **order,
        "b_actor": f"openid:{order['b_openid']}",
        "b_detail": {
            "total_fen": order["b_total_fen"],
            "registrations": len(priced),
            "trade_type": order["b_trade_type"],
        },
    }
    if uow.dialect == "postgresql":
        for i, item in enumerate(priced):
            values.update({f"b_{name}_{i}": getattr(item, name) for name in _ITEM_VALUES})
        [(order["id"], held)] = uow.single(_write_at_once(len(priced)), **values)
    else:
        with uow as session:
            held = _write_statements(session.connection(), order, priced, values)
    if held != len(priced):
        # A registration taken between our read and this write (a collector recorded it, say):
        # the order never held it. Undo the order, freeing only what it took.
        log.info("order %s: %d of %d registrations held", order["b_order_no"], held, len(priced))
        with uow as session:
            drop_holds_collectors_have(session, order["id"])
            close_order(session, order["id"], reason="not_held", actor="system", now=now)
        raise NotAllHeld()


def _write_statements(connection, order: dict, priced: list[PricedItem], values: dict) -> int:
    """The writes one after another, in the caller's transaction; how many were held."""
    order_id = order["id"] = execute_compiled(connection, _INSERT_ORDER, order)[0][0]
    execute_compiled_many(
        connection,
        _INSERT_ITEM,
        [
            {"b_order_id": order_id, **{f"b_{n}": getattr(p, n) for n in _ITEM_VALUES}}
            for p in priced
        ],
    )
    held = execute_compiled(connection, _HOLD, {"b_id": order_id, "b_now": values["b_now"]})
    if len(held) != len(priced):
        raise NotAllHeld()  # the caller's transaction rolls back: nothing of the order stays
    execute_compiled(connection, _AUDIT_CREATED, values)
    return len(held)


# -- 3. open the platform trade ----------------------------------------------------------------

_SAVE_TRADE = (
    update(_ord)
    .where(_ord.c.id == bindparam("b_id"))
    .values(
        prepay_id=bindparam("b_prepay_id"),
        code_url=bindparam("b_code_url"),
        pay_params=bindparam("b_pay_params", type_=_ord.c.pay_params.type),
        updated_at=_NOW,
    )
    .returning(_ord.c.id)
)


def open_trade(uow: UnitOfWork, gateway: PaymentGateway, order: dict, *, now: datetime):
    """Open the platform trade of a written order (outside any transaction) and keep its
    answer; a trade the platform refuses closes the order (Unavailable)."""
    trade_type = order["b_trade_type"]
    try:
        started = gateway.create(
            PaymentRequest(
                order_no=order["b_order_no"],
                total_fen=order["b_total_fen"],
                description=order["b_description"],
                channel=CHANNELS[trade_type],  # type: ignore[arg-type]
                client_ip=order["b_client_ip"],
                created_at=now,
                expires_at=order["b_expires_at"],
                payer=order["b_openid"] if trade_type == "JSAPI" else None,
            )
        )
    except GatewayError as exc:
        log.warning(
            "order %s: the payment platform refused or failed: %s", order["b_order_no"], exc
        )
        # Nobody can pay a trade whose prepay_id they never got; free the registrations now.
        with uow as session:
            close_order(session, order["id"], reason="gateway_error", actor="system", now=now)
        raise Unavailable("微信支付暂时不可用，请稍后再试。", reason="payment_unavailable") from exc
    uow.single(
        _SAVE_TRADE,
        b_id=order["id"],
        b_prepay_id=started.platform_ref,
        b_code_url=started.code_url,
        b_pay_params=started.client_params,
        b_now=now,
    )
    return started
