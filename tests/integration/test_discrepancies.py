"""Reconciliation discrepancies as staff see and resolve them, over real HTTP.

The rows are written straight through the ORM, as reconciliation would leave them.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select

from backend.models import AuditEntry, ReconDiscrepancy
from tests.support.running import fresh

URL = "/api/staff/v1/discrepancies"
DAY = date(2019, 11, 5)
NEXT_DAY = date(2019, 11, 6)


@pytest.fixture
def session(app, with_regions):
    with app.extensions["db_sessions"]() as session:
        yield session


def add(session, *, order_no, kind="missing_in_bill", county="410721", status="open", **extra):
    values = {
        "bill_date": DAY,
        "transaction_id": "4200" + order_no[-28:].rjust(28, "0"),
        "ours_fen": 25000,
        "bill_fen": None,
        **extra,
    }
    row = ReconDiscrepancy(kind=kind, order_no=order_no, county=county, status=status, **values)
    session.add(row)
    session.commit()
    return row.id


@pytest.fixture
def rows(session):
    """新乡县 (410721): open, held (next day), fixed; 获嘉县 (410724): open; no county: open."""
    return {
        "open": add(session, order_no="P0001"),
        "held": add(session, order_no="P0002", status="held", bill_date=NEXT_DAY),
        "fixed": add(
            session,
            order_no="P0003",
            kind="missing_in_ours",
            status="fixed",
            ours_fen=None,
            bill_fen=25000,
            fix="已向微信支付查询确认并入账",
        ),
        "far": add(
            session, order_no="P0004", kind="amount_mismatch", county="410724", bill_fen=20000
        ),
        "stranger": add(
            session,
            order_no="X0005",
            kind="missing_in_ours",
            county=None,
            ours_fen=None,
            bill_fen=100,
        ),
    }


@pytest.fixture
def as_staff(staff_token):
    def headers(role="recon", region="410700", name=None):
        return {"Authorization": f"Bearer {staff_token(role, region, name)}"}

    return headers


def listed(http, live_server, headers, **query):
    answer = http.get(live_server + URL, params=query, headers=headers)
    assert answer.status_code == 200, answer.text
    return [row["order_no"] for row in answer.json()], answer


def test_city_staff_list_every_discrepancy_newest_day_first_and_filter_them(
    rows, http, live_server, as_staff
):
    city = as_staff()
    numbers, answer = listed(http, live_server, city)
    assert numbers == ["P0002", "P0001", "P0003", "P0004", "X0005"]
    assert json.loads(answer.headers["X-Pagination"])["total"] == 5
    first = answer.json()[1]
    assert first == {
        "id": rows["open"],
        "bill_date": "2019-11-05",
        "kind": "missing_in_bill",
        "order_no": "P0001",
        "refund_no": "",
        "transaction_id": first["transaction_id"],
        "ours_fen": 25000,
        "bill_fen": None,
        "county": "410721",
        "status": "open",
        "fix": None,
        "resolution": None,
        "resolved_by": None,
        "resolved_at": None,
        "first_seen_at": first["first_seen_at"],
        "last_seen_at": first["last_seen_at"],
    }
    assert listed(http, live_server, city, date="2019-11-05")[0] == [
        "P0001",
        "P0003",
        "P0004",
        "X0005",
    ]
    assert listed(http, live_server, city, status="open")[0] == ["P0001", "P0004", "X0005"]
    assert listed(http, live_server, city, kind="missing_in_ours")[0] == ["P0003", "X0005"]
    assert listed(http, live_server, city, county="410724")[0] == ["P0004"]
    page, answer = listed(http, live_server, city, page=2, page_size=2)
    assert page == ["P0003", "P0004"]
    assert json.loads(answer.headers["X-Pagination"])["total_pages"] == 3

    one = http.get(f"{live_server}{URL}/{rows['fixed']}", headers=city).json()
    assert one["status"] == "fixed" and one["fix"] == "已向微信支付查询确认并入账"

    for bad in (
        {"status": "pending"},
        {"kind": "lost"},
        {"county": "4107"},
        {"date": "2019-13-01"},
    ):
        assert http.get(live_server + URL, params=bad, headers=city).status_code == 422


def test_county_staff_see_only_their_county_and_nothing_of_orders_that_are_not_ours(
    rows, http, live_server, as_staff
):
    county = as_staff(region="410721", name="county-recon")
    assert listed(http, live_server, county)[0] == ["P0002", "P0001", "P0003"]
    assert listed(http, live_server, county, county="410724")[0] == []
    for hidden in ("far", "stranger"):
        answer = http.get(f"{live_server}{URL}/{rows[hidden]}", headers=county)
        assert answer.status_code == 404
        assert answer.json()["message"] == "没有找到该差异记录，或它不在您的管辖范围内。"
        resolve = http.post(
            f"{live_server}{URL}/{rows[hidden]}/resolve", json={"reason": "核实"}, headers=county
        )
        assert resolve.status_code == 404
    assert http.get(f"{live_server}{URL}/999999", headers=county).status_code == 404

    # A township's staff reconcile no county's money.
    township = as_staff(region="410721100", name="township-recon")
    assert listed(http, live_server, township)[0] == []


def test_resolving_records_who_why_and_when_and_audits_it_once(
    rows, session, http, live_server, as_staff
):
    clerk = as_staff(region="410721", name="王会计")
    reason = "  已与微信支付核实：支付在次日对账单中，无需处理。 "
    answer = http.post(
        f"{live_server}{URL}/{rows['open']}/resolve", json={"reason": reason}, headers=clerk
    )
    assert answer.status_code == 200, answer.text
    done = answer.json()
    assert done["status"] == "resolved" and done["resolved_by"] == "王会计"
    assert done["resolution"] == reason.strip()
    assert datetime.fromisoformat(done["resolved_at"]) <= datetime.now(UTC)
    assert http.get(f"{live_server}{URL}/{rows['open']}", headers=clerk).json() == done

    entries = fresh(
        session,
        lambda s: s.scalars(
            select(AuditEntry).where(AuditEntry.action == "discrepancy.resolved")
        ).all(),
    )
    assert [(e.actor, e.target, e.region_code) for e in entries] == [
        ("王会计", "P0001", "410721000000")
    ]
    assert entries[0].detail["kind"] == "missing_in_bill"
    assert entries[0].detail["order_no"] == "P0001"
    assert entries[0].detail["reason"] == reason.strip()

    again = http.post(
        f"{live_server}{URL}/{rows['open']}/resolve", json={"reason": "再次处理"}, headers=clerk
    )
    assert again.status_code == 409
    assert again.json()["message"].startswith("该差异已由 王会计 于 ")
    assert "不能重复处理" in again.json()["message"]
    assert (
        fresh(session, lambda s: s.get(ReconDiscrepancy, rows["open"]).resolution) == reason.strip()
    )
    assert listed(http, live_server, clerk, status="resolved")[0] == ["P0001"]


def test_only_open_discrepancies_with_a_reason_can_be_resolved(
    rows, session, http, live_server, as_staff
):
    city = as_staff()

    def resolve(key, body):
        return http.post(f"{live_server}{URL}/{rows[key]}/resolve", json=body, headers=city)

    for body in ({}, {"reason": ""}, {"reason": "   "}, {"reason": "因" * 256}):
        answer = resolve("open", body)
        assert answer.status_code == 422, body
        assert "reason" in answer.json()["errors"]["json"]
    assert resolve("open", {"reason": "因" * 255}).status_code == 200

    held = resolve("held", {"reason": "核实"})
    assert held.status_code == 409 and "等待" in held.json()["message"]
    fixed = resolve("fixed", {"reason": "核实"})
    assert fixed.status_code == 409
    assert (
        fixed.json()["message"]
        == "该差异已由系统自动处理（已向微信支付查询确认并入账），无需人工处理。"
    )
    statuses = fresh(
        session,
        lambda s: {
            r.order_no: (r.status, r.resolved_by) for r in s.scalars(select(ReconDiscrepancy))
        },
    )
    assert statuses["P0002"] == ("held", None) and statuses["P0003"] == ("fixed", None)

    # A payment that is not ours: resolved by city staff, audited under the city.
    assert resolve("stranger", {"reason": "非本系统订单，已报商户平台核查"}).status_code == 200
    region = fresh(
        session,
        lambda s: s.scalar(select(AuditEntry.region_code).where(AuditEntry.target == "X0005")),
    )
    assert region == "410700000000"


def test_two_clerks_resolving_at_once_only_one_succeeds(rows, http, live_server, as_staff):
    clerks = [as_staff(region="410721", name=f"clerk-{n}") for n in range(4)]

    def resolve(headers):
        url = f"{live_server}{URL}/{rows['open']}/resolve"
        return http.post(url, json={"reason": "核实"}, headers=headers).status_code

    with ThreadPoolExecutor(len(clerks)) as pool:
        codes = sorted(pool.map(resolve, clerks))
    assert codes == [200, 409, 409, 409]


def test_only_reconciliation_staff_see_discrepancies(rows, http, live_server, as_staff):
    for role in ("viewer", "agency"):
        headers = as_staff(role=role)
        assert http.get(live_server + URL, headers=headers).status_code == 403
        assert http.get(f"{live_server}{URL}/{rows['open']}", headers=headers).status_code == 403
        answer = http.post(
            f"{live_server}{URL}/{rows['open']}/resolve", json={"reason": "x"}, headers=headers
        )
        assert answer.status_code == 403
    assert http.get(live_server + URL).status_code == 401
    assert http.get(live_server + URL, headers=as_staff(role="admin")).status_code == 200


def test_ids_and_pages_beyond_any_row_are_answered_not_crashed(rows, http, live_server, as_staff):
    admin = as_staff(role="admin")
    beyond = 2**63
    assert http.get(f"{live_server}{URL}/{beyond}", headers=admin).status_code == 404
    answer = http.post(f"{live_server}{URL}/{beyond}/resolve", json={"reason": "x"}, headers=admin)
    assert answer.status_code == 404
    for url in (live_server + URL, live_server + "/api/staff/v1/registrations"):
        answer = http.get(url, params={"page": 10**28}, headers=admin)
        assert (answer.status_code, answer.json()) == (200, []), answer.text


def test_flask_discrepancies_lists_and_resolves(rows, session, app):
    runner = app.test_cli_runner()
    listed_ = runner.invoke(
        args=["discrepancies", "list", "--date", "2019-11-05", "--status", "open"]
    )
    assert listed_.exit_code == 0, listed_.output
    lines = listed_.output.splitlines()
    assert [line.split("\t")[0] for line in lines[:-1]] == [
        str(rows["open"]),
        str(rows["far"]),
        str(rows["stranger"]),
    ]
    assert lines[-1] == "3 of 3 discrepancies shown"

    done = runner.invoke(
        args=[
            "discrepancies",
            "resolve",
            str(rows["far"]),
            "--reason",
            "金额已核实",
            "--as",
            "李四",
        ]
    )
    assert done.exit_code == 0, done.output
    assert "resolved by 李四" in done.output
    found = fresh(session, lambda s: s.get(ReconDiscrepancy, rows["far"]))
    assert (found.status, found.resolved_by, found.resolution) == ("resolved", "李四", "金额已核实")

    again = runner.invoke(
        args=["discrepancies", "resolve", str(rows["far"]), "--reason", "x", "--as", "李四"]
    )
    assert again.exit_code == 1 and "不能重复处理" in again.output
    blank = runner.invoke(
        args=["discrepancies", "resolve", str(rows["open"]), "--reason", " ", "--as", "李四"]
    )
    assert blank.exit_code == 1 and "请填写处理原因" in blank.output

    # One of no county, resolved on the command line, is audited under the city.
    stranger = [
        "discrepancies",
        "resolve",
        str(rows["stranger"]),
        "--reason",
        "已查",
        "--as",
        "李四",
    ]
    assert runner.invoke(args=stranger).exit_code == 0
    filed = fresh(
        session,
        lambda s: s.scalar(
            select(AuditEntry.region_code).where(
                AuditEntry.action == "discrepancy.resolved",
                AuditEntry.target == "X0005",
            )
        ),
    )
    assert filed == "410700000000"
