"""The fake WeChat Pay ledger: every merchant's orders, payments and refunds, thread-safe.

Business rules live here (repeat orders, closing, paying, cumulative refunds, refunds settling);
the wire format lives in pay.py. Everything is guarded by one lock, held only for in-memory work
and the optional JSON save; notifications are built under the lock and sent after it is released.
Trades are few (tests and demos), so the rarer look-ups (by transaction_id, prepay_id, code_url,
refund number) scan the table instead of keeping indexes in step.
"""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from fakes.json_store import JsonStore
from fakes.wechat import beijing, notices, signing
from fakes.wechat.notifier import Notifier, OnAttempt
from fakes.wechat.trades import (
    CLOSED,
    DEFAULT_WINDOW_S,
    LIVE,
    NOTPAY,
    PREPAY_LIFETIME_S,
    PROCESSING,
    REFUND,
    SUCCESS,
    Refund,
    Trade,
    new_code_url,
    new_prepay_id,
    new_refund_id,
    new_transaction_id,
)

Key = tuple[str, str, str]  # (realm, mch_id, out_trade_no)
NOTIFY_MODES = ("once", "missing", "twice", "late")


class PayError(Exception):
    """A business refusal: WeChat answers result_code=FAIL with this err_code."""

    def __init__(self, code: str, des: str) -> None:
        super().__init__(f"{code}: {des}")
        self.code = code
        self.des = des


def _not_found() -> PayError:
    return PayError("ORDERNOTEXIST", "订单不存在")


@dataclass(frozen=True)
class Merchant:
    mch_id: str
    appid: str
    api_key: str

    def key(self, realm: str) -> str:
        return self.api_key if realm == LIVE else signing.sandbox_key(self.mch_id, self.api_key)


@dataclass
class Delivery:
    url: str
    body: bytes
    on_attempt: OnAttempt
    copies: int = 1
    delay_s: float = 0.0
    wire: dict[str, Any] = field(default_factory=dict)  # Notifier.send's headers/ack (API v3)


class PayLedger:
    def __init__(
        self,
        merchants: Iterable[Merchant],
        notifier: Notifier,
        *,
        clock: Callable[[], float] = time.time,
        refund_settle_s: float = 5.0,
        store: JsonStore | None = None,
    ) -> None:
        self.merchants = {m.mch_id: m for m in merchants}
        self.notifier = notifier
        self.clock = clock  # wall clock, epoch seconds
        self.refund_settle_s = refund_settle_s  # real seconds, already scaled
        # The platform's fault switches (shared with /_control/faults).
        self.faults: dict[str, bool] = {}
        # The API v3 callbacks (v3_notices.V3Notices), when the platform speaks v3.
        self.v3: Any = None
        self.store = store
        self.lock = threading.Lock()
        self._trades: dict[Key, Trade] = {}
        self._generation = 0  # bumped by reset(); late attempt reports of older trades are dropped
        self._timers: list[threading.Timer] = []
        self._timer_lock = threading.Lock()
        if store is not None:
            for data in store.load():
                trade = Trade.from_dict(data)
                self._trades[trade.key] = trade
            for trade in self._trades.values():
                for r in trade.refunds:
                    if r.status == PROCESSING:
                        self._settle_later(r.requested_at + refund_settle_s - self.clock())

    # -- merchant API ------------------------------------------------------------------------

    def create_order(
        self, realm: str, merchant: Merchant, p: dict[str, str], sign_type: str
    ) -> Trade:
        terms = (
            int(p["total_fee"]),
            p["body"],
            p["trade_type"],
            p.get("openid", ""),
            p.get("product_id", ""),
        )
        with self.lock:
            now = self.clock()
            trade = self._trades.get((realm, merchant.mch_id, p["out_trade_no"]))
            if trade is not None:
                state = trade.state_at(now)
                if state in (SUCCESS, REFUND):
                    raise PayError("ORDERPAID", "该订单已支付")
                if state == CLOSED:
                    raise PayError("ORDERCLOSED", "该订单已关闭")
                if trade.terms() != terms:
                    raise PayError("OUT_TRADE_NO_USED", "商户订单号重复")
                if now - trade.prepay_at >= PREPAY_LIFETIME_S:
                    trade.prepay_id, trade.prepay_at = new_prepay_id(now), now
                    self._save()
                return copy.deepcopy(trade)
            expire = p.get("time_expire")
            trade = Trade(
                realm=realm,
                mch_id=merchant.mch_id,
                appid=merchant.appid,
                out_trade_no=p["out_trade_no"],
                trade_type=p["trade_type"],
                body=p["body"],
                total_fee=int(p["total_fee"]),
                notify_url=p["notify_url"],
                spbill_create_ip=p["spbill_create_ip"],
                sign_type=sign_type,
                created_at=now,
                expires_at=beijing.parse_compact(expire) if expire else now + DEFAULT_WINDOW_S,
                prepay_id=new_prepay_id(now),
                prepay_at=now,
                attach=p.get("attach", ""),
                device_info=p.get("device_info", ""),
                openid=p.get("openid", ""),
                product_id=p.get("product_id", ""),
                code_url=new_code_url() if p["trade_type"] == "NATIVE" else "",
            )
            self._trades[trade.key] = trade
            self._save()
            return copy.deepcopy(trade)

    def load_history(self, mch_id: str, history: list[dict]) -> tuple[int, int]:
        """Payments made before the fake started, as they stand now (paid, maybe refunded):
        (added, already known). Nothing is notified; a known out_trade_no is left as it is, so
        loading the same history twice changes nothing.

        Each entry: out_trade_no, trade_type, body, total_fee, openid, transaction_id, created_at
        and paid_at (epoch seconds), and refunds (out_refund_no, refund_id, refund_fee,
        requested_at, succeeded_at), all finished.
        """
        merchant = self.merchants.get(mch_id)
        if merchant is None:
            raise PayError("MCHID_NOT_EXIST", "商户号不存在")
        added = 0
        with self.lock:
            for entry in history:
                key = (LIVE, mch_id, entry["out_trade_no"])
                if key in self._trades:
                    continue
                created, paid = float(entry["created_at"]), float(entry["paid_at"])
                native = entry["trade_type"] == "NATIVE"
                self._trades[key] = Trade(
                    realm=LIVE,
                    mch_id=mch_id,
                    appid=merchant.appid,
                    out_trade_no=entry["out_trade_no"],
                    trade_type=entry["trade_type"],
                    body=entry["body"],
                    total_fee=int(entry["total_fee"]),
                    notify_url="",
                    spbill_create_ip="127.0.0.1",
                    sign_type="MD5",
                    created_at=created,
                    expires_at=created + DEFAULT_WINDOW_S,
                    prepay_id=new_prepay_id(created),
                    prepay_at=created,
                    openid=entry.get("openid", ""),
                    product_id=entry["out_trade_no"] if native else "",
                    code_url=new_code_url() if native else "",
                    state=SUCCESS,
                    transaction_id=entry["transaction_id"],
                    paid_at=paid,
                    refunds=[
                        Refund(
                            out_refund_no=r["out_refund_no"],
                            refund_id=r["refund_id"],
                            refund_fee=int(r["refund_fee"]),
                            requested_at=float(r["requested_at"]),
                            status=SUCCESS,
                            succeeded_at=float(r["succeeded_at"]),
                        )
                        for r in entry.get("refunds", ())
                    ],
                )
                added += 1
            if added:
                self._save()
        return added, len(history) - added

    def query(
        self, realm: str, mch_id: str, transaction_id: str = "", out_trade_no: str = ""
    ) -> tuple[Trade, str]:
        """(the trade, its trade_state now); transaction_id wins over out_trade_no."""
        self.tick()
        with self.lock:
            trade = self._lookup(realm, mch_id, transaction_id, out_trade_no)
            return copy.deepcopy(trade), trade.state_at(self.clock())

    def close_order(self, realm: str, mch_id: str, out_trade_no: str) -> None:
        # WeChat asks merchants not to close an order within 5 minutes of creating it; the fake
        # does not enforce that, so tests can close at once.
        with self.lock:
            trade = self._lookup(realm, mch_id, "", out_trade_no)
            state = trade.state_at(self.clock())
            if state in (SUCCESS, REFUND):
                raise PayError("ORDERPAID", "订单已支付，不能发起关单")
            if state == CLOSED:
                raise PayError("ORDERCLOSED", "订单已关闭，无需继续关闭")
            trade.state = CLOSED
            self._save()

    def refund(self, realm: str, mch_id: str, p: dict[str, str]) -> tuple[Trade, Refund]:
        total_fee, refund_fee = int(p["total_fee"]), int(p["refund_fee"])
        deliveries: list[Delivery] = []
        with self.lock:
            now = self.clock()
            trade = self._lookup(
                realm, mch_id, p.get("transaction_id", ""), p.get("out_trade_no", "")
            )
            found = self._find_refund(realm, mch_id, out_refund_no=p["out_refund_no"])
            if found is not None:
                owner, existing = found
                if (
                    owner is not trade
                    or existing.refund_fee != refund_fee
                    or total_fee != trade.total_fee
                ):
                    raise PayError(
                        "PARAM_ERROR", "订单金额或退款金额与之前请求不一致，请核实后再试"
                    )
                return copy.deepcopy(trade), copy.deepcopy(existing)  # same number: same refund
            state = trade.state_at(now)
            if state == NOTPAY:
                raise _not_found()
            if state == CLOSED:
                raise PayError("TRADE_STATE_ERROR", "订单状态错误")
            if total_fee != trade.total_fee:
                raise PayError("PARAM_ERROR", "total_fee与订单金额不一致")
            if trade.refunded() + refund_fee > trade.total_fee:
                raise PayError("ERROR", "累计退款金额大于支付金额")
            refund = Refund(
                out_refund_no=p["out_refund_no"],
                refund_id=new_refund_id(now),
                refund_fee=refund_fee,
                requested_at=now,
                refund_account=p.get("refund_account") or "REFUND_SOURCE_UNSETTLED_FUNDS",
                refund_desc=p.get("refund_desc", ""),
                notify_url=p.get("notify_url", ""),
            )
            trade.refunds.append(refund)
            if self.refund_settle_s <= 0:
                deliveries = self._settle(trade, refund, now)
            self._save()
            answer = copy.deepcopy(trade), copy.deepcopy(refund)
        if self.refund_settle_s > 0:
            self._settle_later(self.refund_settle_s)
        self._dispatch(deliveries)
        return answer

    def query_refunds(
        self, realm: str, mch_id: str, p: dict[str, str]
    ) -> tuple[Trade, list[Refund]]:
        """Refunds by refund_id > out_refund_no > transaction_id > out_trade_no."""
        self.tick()
        with self.lock:
            if p.get("refund_id") or p.get("out_refund_no"):
                found = self._find_refund(
                    realm,
                    mch_id,
                    refund_id=p.get("refund_id", ""),
                    out_refund_no=p.get("out_refund_no", ""),
                )
                if found is None:
                    raise PayError("REFUNDNOTEXIST", "退款订单查询失败")
                trade, refunds = found[0], [found[1]]
            else:
                try:
                    trade = self._lookup(
                        realm, mch_id, p.get("transaction_id", ""), p.get("out_trade_no", "")
                    )
                except PayError:
                    raise PayError("REFUNDNOTEXIST", "退款订单查询失败") from None
                refunds = trade.refunds
                if not refunds:
                    raise PayError("REFUNDNOTEXIST", "退款订单查询失败")
            return copy.deepcopy(trade), copy.deepcopy(refunds)

    def paid_trades(self, realm: str, mch_id: str) -> list[Trade]:
        """Copies of a merchant's paid trades (with their refunds), for the bill."""
        self.tick()
        with self.lock:
            return [
                copy.deepcopy(t)
                for t in self._trades.values()
                if t.realm == realm and t.mch_id == mch_id and t.paid_at is not None
            ]

    # -- the payer and the operator (control endpoints) --------------------------------------

    def locate(self, out_trade_no: str, mch_id: str | None = None) -> Key:
        """The trade an out_trade_no names (the newest if several merchants or realms use it)."""
        with self.lock:
            found = [
                t
                for t in self._trades.values()
                if t.out_trade_no == out_trade_no and mch_id in (None, t.mch_id)
            ]
            if not found:
                raise _not_found()
            return max(found, key=lambda t: t.created_at).key

    def locate_by(self, *, prepay_id: str = "", code_url: str = "") -> Key:
        with self.lock:
            for t in self._trades.values():
                if (prepay_id and t.prepay_id == prepay_id) or (
                    code_url and t.code_url == code_url
                ):
                    return t.key
        raise _not_found()

    def snapshot(self, key: Key) -> Trade:
        with self.lock:
            return copy.deepcopy(self._get(key))

    def now(self) -> float:
        return self.clock()

    def pay(self, key: Key, openid: str = "", force: bool = False) -> Trade:
        """The payer pays. `force` pays a closed or expired order anyway (the race where the
        money went through just as the merchant closed it)."""
        with self.lock:
            trade = self._get(key)
            now = self.clock()
            state = trade.state_at(now)
            if state in (SUCCESS, REFUND):
                raise PayError("ORDERPAID", "该订单已支付")
            if state == CLOSED and not force:
                raise PayError("ORDERCLOSED", "该订单已关闭")
            trade.state = SUCCESS
            trade.paid_at = now
            trade.transaction_id = new_transaction_id(now)
            trade.openid = trade.openid or openid
            self._save()
            return copy.deepcopy(trade)

    def notify_payment(self, key: Key, mode: str = "once", delay_s: float = 0.0) -> None:
        """Send the payment notification: once, never (missing), twice at once, or late."""
        if mode not in NOTIFY_MODES:
            raise ValueError(f"notify must be one of {NOTIFY_MODES}")
        with self.lock:
            trade = self._get(key)
            if trade.paid_at is None:
                raise PayError("ORDERNOTPAID", "订单未支付")
            body, wire = self._payment_notice(trade)
            delivery = Delivery(
                trade.notify_url,
                body,
                self._recorder(key),
                copies=2 if mode == "twice" else 1,
                delay_s=delay_s if mode == "late" else 0.0,
                wire=wire,
            )
        if mode != "missing":
            self._dispatch([delivery])

    def notify_refund(self, out_refund_no: str) -> None:
        """Send a finished refund's notification again (WeChat repeats them too)."""
        with self.lock:
            trade, refund = self._refund_anywhere(out_refund_no)
            if refund.succeeded_at is None or not refund.notify_url:
                raise PayError("REFUNDNOTEXIST", "退款未完成，没有可重发的通知")
            body, wire = self._refund_notice(trade, refund)
            delivery = Delivery(
                refund.notify_url, body, self._recorder(trade.key, refund.out_refund_no), wire=wire
            )
        self._dispatch([delivery])

    def _refund_anywhere(self, out_refund_no: str) -> tuple[Trade, Refund]:
        found = next(
            (
                (t, r)
                for t in self._trades.values()
                for r in t.refunds
                if r.out_refund_no == out_refund_no
            ),
            None,
        )
        if found is None:
            raise PayError("REFUNDNOTEXIST", "退款单不存在")
        return found

    def settle_refund(self, out_refund_no: str) -> tuple[Trade, Refund]:
        """Complete a PROCESSING refund now (any merchant, any realm)."""
        deliveries: list[Delivery] = []
        with self.lock:
            trade, refund = self._refund_anywhere(out_refund_no)
            if refund.status == PROCESSING:
                deliveries = self._settle(trade, refund, self.clock())
                self._save()
            answer = copy.deepcopy(trade), copy.deepcopy(refund)
        self._dispatch(deliveries)
        return answer

    # -- housekeeping ------------------------------------------------------------------------

    def tick(self) -> None:
        """Settle the refunds whose processing time is over and send their notifications."""
        deliveries: list[Delivery] = []
        with self.lock:
            now = self.clock()
            due = [
                (t, r)
                for t in self._trades.values()
                for r in t.refunds
                if r.status == PROCESSING and now >= r.requested_at + self.refund_settle_s
            ]
            for trade, refund in due:
                deliveries += self._settle(trade, refund, now)
            if due:
                self._save()
        self._dispatch(deliveries)

    def reset(self) -> None:
        self.notifier.cancel_pending()
        with self.lock:
            self._cancel_timers()
            self._trades.clear()
            self._generation += 1
            self._save()

    def close(self) -> None:
        """Stop timers and notification threads (tests call this when done with a server)."""
        with self.lock:
            self._cancel_timers()
        self.notifier.close()

    # -- internals (lock held unless said otherwise) -----------------------------------------

    def _get(self, key: Key) -> Trade:
        trade = self._trades.get(key)
        if trade is None:
            raise _not_found()
        return trade

    def _lookup(self, realm: str, mch_id: str, transaction_id: str, out_trade_no: str) -> Trade:
        if transaction_id:
            for t in self._trades.values():
                if t.realm == realm and t.mch_id == mch_id and t.transaction_id == transaction_id:
                    return t
            raise _not_found()
        return self._get((realm, mch_id, out_trade_no))

    def _find_refund(
        self, realm: str, mch_id: str, refund_id: str = "", out_refund_no: str = ""
    ) -> tuple[Trade, Refund] | None:
        for t in self._trades.values():
            if t.realm != realm or t.mch_id != mch_id:
                continue
            for r in t.refunds:
                if (refund_id and r.refund_id == refund_id) or (
                    not refund_id and r.out_refund_no == out_refund_no
                ):
                    return t, r
        return None

    def _settle(self, trade: Trade, refund: Refund, now: float) -> list[Delivery]:
        refund.status = SUCCESS
        refund.succeeded_at = now
        if not refund.notify_url or self.faults.get("refund_notify_lost"):
            return []
        body, wire = self._refund_notice(trade, refund)
        recorder = self._recorder(trade.key, refund.out_refund_no)
        return [Delivery(refund.notify_url, body, recorder, wire=wire)]

    def _payment_notice(self, trade: Trade) -> tuple[bytes, dict[str, Any]]:
        """The notification body in the API the order came through, and how to deliver it."""
        if trade.v3 and self.v3 is not None:
            return self.v3.payment(trade)
        return notices.payment(trade, self.merchants[trade.mch_id].key(trade.realm)), {}

    def _refund_notice(self, trade: Trade, refund: Refund) -> tuple[bytes, dict[str, Any]]:
        if trade.v3 and self.v3 is not None:
            return self.v3.refund(trade, refund)
        return notices.refund(trade, refund, self.merchants[trade.mch_id].key(trade.realm)), {}

    def _recorder(self, key: Key, out_refund_no: str | None = None) -> OnAttempt:
        generation = self._generation

        def record(attempt) -> None:
            with self.lock:
                trade = self._trades.get(key)
                if trade is None or self._generation != generation:
                    return
                if out_refund_no is None:
                    trade.notify_attempts.append(attempt)
                else:
                    for r in trade.refunds:
                        if r.out_refund_no == out_refund_no:
                            r.notify_attempts.append(attempt)
                self._save()

        return record

    def _dispatch(self, deliveries: list[Delivery]) -> None:
        """Hand deliveries to the notifier; called without the lock."""
        for d in deliveries:
            self.notifier.send(
                d.url, d.body, d.on_attempt, copies=d.copies, delay_s=d.delay_s, **d.wire
            )

    def _settle_later(self, delay_s: float) -> None:
        # A nudge so refunds settle (and notify) even if nobody queries them; the decision is
        # tick()'s, against the clock.
        timer = threading.Timer(max(0.0, delay_s) + 0.01, self.tick)
        timer.daemon = True
        with self._timer_lock:
            self._timers = [t for t in self._timers if t.is_alive()]
            self._timers.append(timer)
        timer.start()

    def _cancel_timers(self) -> None:
        with self._timer_lock:
            for timer in self._timers:
                timer.cancel()
            self._timers.clear()

    def _save(self) -> None:
        if self.store is not None:
            self.store.save([t.to_dict() for t in self._trades.values()])
