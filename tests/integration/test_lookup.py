"""Looking a person up: what a resident sees on the phone after typing ID number and name."""

from __future__ import annotations

from datetime import timedelta

import pytest

from backend import create_app
from tests.support.builders import add_person, age_on_2019
from tests.support.people import make_id_number
from tests.support.regions import VILLAGE
from tests.support.resident import lookup, sign_in
from tests.support.servers import ServerThread


@pytest.fixture
def db_session(app, with_regions):
    with app.extensions["db_sessions"]() as session:
        yield session


@pytest.fixture
def auth(http, live_server, fake_wechat):
    return sign_in(http, live_server, fake_wechat)


def test_an_ordinary_adult_sees_pension_grades_and_medical_share(
    db_session, live_server, http, auth
):
    person, _ = add_person(db_session, name="张三", birth=age_on_2019(40))
    answer = lookup(http, live_server, auth, person.id_number, "张三")
    assert answer.status_code == 200
    body = answer.json()

    assert body["enrollee"]["name_masked"] == "张*"
    assert (
        body["enrollee"]["id_number_masked"]
        == person.id_number[:6] + "********" + person.id_number[-4:]
    )
    assert body["enrollee"]["village"]["code"] == VILLAGE
    assert body["enrollee"]["village"]["full_name"] == "新乡县翟坡镇大召营村"
    assert body["enrollee"]["ref"].startswith("E")

    pension, medical = sorted(body["registrations"], key=lambda r: r["scheme"], reverse=True)
    assert (pension["scheme"], pension["period_year"], pension["status"]) == (
        "pension",
        2019,
        "unpaid",
    )
    assert pension["payable_fen"] == 20000
    assert pension["contribution_subsidy_fen"] == 3000
    assert pension["gov_paid_fen"] == 0
    assert [g["grade_yuan"] for g in pension["grades"]] == [
        200,
        300,
        400,
        500,
        600,
        700,
        800,
        900,
        1000,
        1500,
        2000,
        2500,
        3000,
        4000,
        5000,
    ]
    top = pension["grades"][-1]
    assert (top["payable_fen"], top["contribution_subsidy_fen"]) == (500000, 20000)
    assert pension["deadline"] == "2019-10-31"

    assert (medical["scheme"], medical["period_year"]) == ("medical", 2020)
    assert medical["payable_fen"] == 25000
    assert medical["grades"] == []
    assert {line["kind"]: line["amount_fen"] for line in medical["breakdown"]}["payable"] == 25000


def test_every_lookup_answer_matches_the_documented_schema(db_session, live_server, http, auth):
    """The view sends the service's answer without a schema dump; this keeps the two in step."""
    from backend.api.resident import LookupOut

    people = [
        add_person(db_session, name="甲", seq="021", birth=age_on_2019(30)),
        add_person(db_session, name="乙", seq="023", groups=("tekun",)),
        add_person(db_session, name="丙", seq="025", birth=age_on_2019(70)),
        add_person(db_session, name="丁", seq="027", schemes=()),
    ]
    for person, _ in people:
        body = lookup(http, live_server, auth, person.id_number, person.name).json()
        loaded = LookupOut().load(body)  # raises on an unknown field or a wrong type
        assert LookupOut().dump(loaded) == body


def test_a_dibao_person_sees_the_government_share_line_by_line(db_session, live_server, http, auth):
    person, _ = add_person(db_session, name="李四", seq="003", groups=("dibao",))
    body = lookup(http, live_server, auth, person.id_number, "李四").json()
    pension, medical = sorted(body["registrations"], key=lambda r: r["scheme"], reverse=True)

    assert medical["payable_fen"] == 15000
    assert medical["gov_paid_fen"] == 10000
    assert medical["applied_group"] == "dibao"
    kinds = [line["kind"] for line in medical["breakdown"]]
    assert kinds == ["gross", "gov_paid", "payable"]
    assert "低保" in medical["breakdown"][1]["label"]

    assert pension["grades"][0] == {
        "grade_yuan": 100,
        "payable_fen": 0,
        "gov_paid_fen": 10000,
        "contribution_subsidy_fen": 3000,
    }
    assert pension["payable_fen"] == 0


def test_several_groups_never_stack(db_session, live_server, http, auth):
    person, _ = add_person(db_session, name="王五", seq="005", groups=("dibao", "poverty"))
    body = lookup(http, live_server, auth, person.id_number, "王五").json()
    medical = next(r for r in body["registrations"] if r["scheme"] == "medical")
    assert (medical["payable_fen"], medical["gov_paid_fen"], medical["applied_group"]) == (
        0,
        25000,
        "poverty",
    )


def test_a_65_year_old_registered_for_pension_is_told_why_not(db_session, live_server, http, auth):
    person, _ = add_person(db_session, name="赵六", seq="007", birth=age_on_2019(65))
    body = lookup(http, live_server, auth, person.id_number, "赵六").json()
    pension = next(r for r in body["registrations"] if r["scheme"] == "pension")
    assert pension["grades"] == []
    assert pension["payable_fen"] == 0
    assert "59" in pension["ineligible_reason"]


def test_lower_case_x_finds_the_person(db_session, live_server, http, auth):
    person, _ = add_person(db_session, name="孙七", seq="001")
    assert person.id_number.endswith("X")
    answer = lookup(http, live_server, auth, person.id_number.lower(), " 孙七 ")
    assert answer.status_code == 200


def test_unknown_id_and_wrong_name_give_the_same_404(db_session, live_server, http, auth):
    person, _ = add_person(db_session, name="周八", seq="009")
    unknown = lookup(http, live_server, auth, make_id_number(seq="011"), "周八")
    wrong_name = lookup(http, live_server, auth, person.id_number, "周九")
    assert unknown.status_code == wrong_name.status_code == 404
    assert unknown.json() == wrong_name.json()
    assert unknown.content == wrong_name.content


@pytest.mark.parametrize(
    ("id_number", "says"),
    [
        ("410721198001010010", "校验位"),
        ("41072119800101001", "18位"),
        ("4107211980010100AB", "17位数字"),
    ],
)
def test_a_malformed_id_number_is_a_422_that_says_what_is_wrong(
    live_server, http, auth, id_number, says
):
    answer = lookup(http, live_server, auth, id_number, "张三")
    assert answer.status_code == 422
    assert says in answer.json()["message"]


def test_lookup_needs_a_session(live_server, http):
    answer = http.post(f"{live_server}/api/mp/v1/lookup", json={"id_number": "x", "name": "y"})
    assert answer.status_code == 401


@pytest.mark.parametrize(
    "body",
    [
        {"id_number": "41072119800101001X"},
        {"id_number": 41072119800101001, "name": "张三"},
        {"id_number": "41072119800101001X", "name": "张" * 65},
        {"id_number": "41072119800101001X", "name": "张三", "amount_fen": 1},
        {"id_number": "1" * 33, "name": "张三"},
        ["not", "an", "object"],
    ],
)
def test_bad_bodies_get_a_clear_4xx(live_server, http, auth, body):
    answer = http.post(f"{live_server}/api/mp/v1/lookup", json=body, headers=auth)
    assert answer.status_code == 422
    assert answer.json()["code"] == 422


def test_malformed_json_is_a_400_with_a_json_body(live_server, http, auth):
    answer = http.post(
        f"{live_server}/api/mp/v1/lookup",
        data=b'{"id_number": "4107',
        headers={**auth, "Content-Type": "application/json"},
    )
    assert answer.status_code == 400
    assert answer.json()["code"] == 400


def test_lookups_are_limited_per_wechat_user(app_config, clean_db, with_regions, fake_wechat, http):
    app = create_app({**app_config, "LOOKUP_LIMIT_PER_OPENID": "3 per minute"})
    with ServerThread(app) as server:
        first_user = sign_in(http, server.url, fake_wechat, "busy-user")
        other_user = sign_in(http, server.url, fake_wechat, "quiet-user")
        codes = [
            lookup(http, server.url, first_user, make_id_number(), "张三").status_code
            for _ in range(4)
        ]
        other = lookup(http, server.url, other_user, make_id_number(), "张三")
    assert codes == [404, 404, 404, 429]
    assert other.status_code == 404  # the limit is per user, not global


def test_lookups_are_limited_per_address(app_config, clean_db, with_regions, fake_wechat, http):
    app = create_app({**app_config, "LOOKUP_LIMIT_PER_ADDRESS": "4 per minute"})
    with ServerThread(app) as server:
        users = [sign_in(http, server.url, fake_wechat, f"user-{n}") for n in range(5)]
        codes = [
            lookup(http, server.url, user, make_id_number(), "张三").status_code for user in users
        ]
        limited = lookup(http, server.url, users[0], make_id_number(), "张三")
    assert codes == [404, 404, 404, 404, 429]
    body = limited.json()
    assert body["code"] == 429
    assert "频繁" in body["message"]
    assert 1 <= int(limited.headers["Retry-After"]) <= 60  # seconds until the minute window resets


def test_rate_limits_are_shared_through_redis(
    app_config, clean_db, with_regions, fake_wechat, http
):
    """Two API nodes behind a load balancer count against the same limit."""
    redis = pytest.importorskip("redis")
    try:
        redis.Redis.from_url("redis://127.0.0.1:6379/0").ping()
    except redis.exceptions.ConnectionError:
        pytest.skip("no Redis server on 127.0.0.1:6379")
    config = {
        **app_config,
        "REDIS_URL": "redis://127.0.0.1:6379/0",
        "LOOKUP_LIMIT_PER_OPENID": "3 per minute",
    }
    user = f"redis-user-{__import__('uuid').uuid4().hex}"
    with ServerThread(create_app(config)) as node_a, ServerThread(create_app(config)) as node_b:
        auth = sign_in(http, node_a.url, fake_wechat, user)
        codes = [
            lookup(http, node.url, auth, make_id_number(), "张三").status_code
            for node in (node_a, node_b, node_a, node_b)
        ]
    assert codes == [404, 404, 404, 429]


def test_lookups_stay_limited_while_redis_is_down(
    app_config, clean_db, with_regions, fake_wechat, http, caplog
):
    """A dead Redis neither takes the lookup down nor lifts its limits: they count in memory."""
    config = {
        **app_config,
        "REDIS_URL": "redis://127.0.0.1:9/0",  # the discard port: nothing answers there
        "LOOKUP_LIMIT_PER_OPENID": "3 per minute",
    }
    with ServerThread(create_app(config)) as server:
        auth = sign_in(http, server.url, fake_wechat, "redis-down-user")
        codes = [
            lookup(http, server.url, auth, make_id_number(), "张三").status_code for _ in range(4)
        ]
    assert codes == [404, 404, 404, 429]
    assert "rate-limit storage unreachable" in caplog.text


def test_a_lookup_survives_the_database_dropping_its_connections(
    db_session, live_server, http, auth, engine
):
    """After a database restart or failover, the next resident gets an answer, not a 503."""
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite has no server connection to lose")
    person, _ = add_person(db_session, name="张三", birth=age_on_2019(40))
    before = lookup(http, live_server, auth, person.id_number, "张三")
    assert before.status_code == 200
    with engine.connect() as conn:
        dropped = conn.exec_driver_sql(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).scalar()
    assert dropped >= 1  # the app's pooled read connection among them

    after = lookup(http, live_server, auth, person.id_number, "张三")
    assert after.status_code == 200
    assert after.json() == before.json()


def test_callers_without_a_valid_token_cannot_use_up_the_signed_in_limits(
    app_config, clean_db, with_regions, fake_wechat, http
):
    """Requests with no or a forged token are answered 401 and counted in a bucket of their
    own: the same address's signed-in residents can still look people up."""
    app = create_app({**app_config, "LOOKUP_LIMIT_PER_ADDRESS": "4 per minute"})
    with ServerThread(app) as server:
        forged = {"Authorization": "Bearer not-a-token"}
        codes = {
            lookup(http, server.url, forged, make_id_number(), "张三").status_code for _ in range(6)
        }
        signed_in = sign_in(http, server.url, fake_wechat, "after-the-flood")
        after = lookup(http, server.url, signed_in, make_id_number(), "张三")
    assert codes == {401}
    assert after.status_code == 404


def test_wrong_names_for_one_id_number_lock_its_lookups_for_a_while(
    app_config, clean_db, with_regions, fake_wechat, http, clock
):
    """LOOKUP_FAILURES_PER_ID wrong names lock the number: even the right name is "not found"
    (nothing tells the lock apart), other numbers are unaffected, and the window passing on the
    business clock lifts it. The counter is kept under a keyed hash, never the number."""
    app = create_app({**app_config, "LOOKUP_FAILURES_PER_ID": "3 per hour"})
    with app.extensions["db_sessions"]() as session:
        person, _ = add_person(session, name="张三", birth=age_on_2019(40))
        other, _ = add_person(session, name="李四", birth=age_on_2019(41))
        session.commit()
    with ServerThread(app) as server:
        auth = sign_in(http, server.url, fake_wechat, "guesser")
        wrong = [lookup(http, server.url, auth, person.id_number, n) for n in "甲乙丙"]
        locked = lookup(http, server.url, auth, person.id_number, "张三")
        unaffected = lookup(http, server.url, auth, other.id_number, "李四")
        clock.advance(timedelta(hours=1))
        auth = sign_in(http, server.url, fake_wechat, "guesser")
        unlocked = lookup(http, server.url, auth, person.id_number, "张三")
    assert [answer.status_code for answer in wrong] == [404, 404, 404]
    assert locked.status_code == 404 and locked.json() == wrong[0].json()
    assert unaffected.status_code == 200
    assert unlocked.status_code == 200
    stored = str(app.extensions["rate_limits"]._primary.storage.storage)
    assert person.id_number not in stored and "lookup/failures/" in stored
