"""`flask seed-demo`: load the demo regions, people and staff accounts, then show what to try.

Safe to run at every start (`make run` does): regions are brought up to date, people are only
added when missing (the same seed gives the same people, so a bigger --size adds the rest), and
the demo staff accounts are created once. It ends with ready-to-try ID numbers and names and the
amounts the resident lookup should show for each.

Full ID numbers and names go to the console on purpose (the data is synthetic and this is how a
person tries the product) and never through logging.
"""

from __future__ import annotations

import logging
import os
import time
import unicodedata
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from backend.auth.staff import create_staff
from backend.config import PROJECT_DIR
from backend.config_checks import refuse_when_live
from backend.fees import NotEligible, PolicyBook, PolicyNotFound, SchemePolicy, quote
from backend.infra import audit
from backend.infra.web import clock, policy_book, unit_of_work
from backend.models import Enrollee, Registration, StaffUser
from backend.seed import loader, season, season_plan
from backend.seed.collectors import DEMO_COLLECTOR, seed_open_batch
from backend.seed.population import (
    DEFAULT_SEED,
    Person,
    RegistrationRow,
    people,
    registration_ref,
    showcase,
)
from backend.seed.regions import CITY_CODE, RegionRow, region_tree
from backend.states.registrations import RegistrationStatus
from backend.values import region_codes
from backend.values.beijing import beijing_text
from backend.values.money import yuan_text

DEFAULT_SIZE = 2000
DEFAULT_CREDENTIALS = PROJECT_DIR / "var" / "demo-credentials.txt"
# (name, role, region): a city administrator and one county agency.
DEMO_STAFF = (
    ("demo-admin", "admin", "410700"),
    ("demo-agency-410721", "agency", "410721"),
    DEMO_COLLECTOR,  # 辉县市小里营镇建设社区's collecting unit
)
ACTOR = "seed-demo"
# Below this size progress lines would only be noise.
PROGRESS_FROM = 50_000
RELATION = {
    "head": "户主",
    "spouse": "配偶",
    "child": "子女",
    "parent": "父母",
    "grandchild": "孙辈",
}


def _demo_options(command):
    """The options seed-demo and seed-season share."""
    for option in reversed(_DEMO_OPTIONS):
        command = option(command)
    return command


_DEMO_OPTIONS = (
    click.option(
        "--size",
        default=DEFAULT_SIZE,
        show_default=True,
        type=click.IntRange(min=0),
        help="number of people; a bigger size on top of a smaller one adds the missing people",
    ),
    click.option(
        "--seed",
        default=DEFAULT_SEED,
        show_default=True,
        type=int,
        help="random seed: the same seed always gives the same people",
    ),
    click.option(
        "--batch-size",
        default=loader.DEFAULT_BATCH_SIZE,
        show_default=True,
        type=click.IntRange(min=1),
        help="people written per transaction",
    ),
    click.option(
        "--credentials-file",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help="where new demo staff tokens are written  [default: var/demo-credentials.txt]",
    ),
)


@click.command("seed-demo")
@_demo_options
@with_appcontext
def seed_demo(size: int, seed: int, batch_size: int, credentials_file: Path | None) -> None:
    """Load demo regions, people and staff accounts (only what is missing) and show what to try."""
    refuse_when_live(current_app.config["APP_CONFIG"], "seed-demo")
    _load_demo(size, seed, batch_size, credentials_file, registered_at=clock().now())
    if size:
        _print_showcase(seed=seed, size=size)


@click.command("seed-season")
@_demo_options
@with_appcontext
def seed_season(size: int, seed: int, batch_size: int, credentials_file: Path | None) -> None:
    """seed-demo, then a collection season in progress up to now: payments since 1 September
    at each county's pace, refunds, treasury entries, WeChat's trades in the fake platform (two
    planted discrepancies yesterday) and the progress rollup. Only what is missing is written."""
    refuse_when_live(current_app.config["APP_CONFIG"], "seed-season")
    started = time.monotonic()
    _load_demo(size, seed, batch_size, credentials_file, registered_at=season_plan.REGISTERED_AT)
    if size:
        now = clock().now()
        picks = showcase(seed, size)
        leave_unpaid = frozenset(
            p.household_no
            for p in (picks.ordinary, picks.dibao, picks.poverty, picks.student, picks.senior)
            if p is not None
        ) | frozenset([picks.household.household_no] if picks.household else [])
        plan = season_plan.plan_season(
            people(seed, size), seed=seed, now=now, book=policy_book(), leave_unpaid=leave_unpaid
        )
        work = season.Season(app=current_app._get_current_object(), plan=plan, now=now)
        click.echo(f"Season up to {beijing_text(now)}: {len(plan.orders):,} payments planned.")
        # Each of hundreds of payments would log a line as the services write them.
        services = logging.getLogger("backend")
        level = services.level
        services.setLevel(logging.WARNING)
        try:
            for name, done in season.run(work):
                click.echo(f"  {name:<10} {done}  ({time.monotonic() - started:.1f} s)")
        finally:
            services.setLevel(level)
        seeded = seed_open_batch(current_app._get_current_object(), leave_unpaid=leave_unpaid)
        if seeded is not None:
            click.echo(
                f"  collector  {DEMO_COLLECTOR[0]}'s open batch {seeded[0]}: {seeded[1]} payments"
                " recorded; close it (单据号) at /staff/collector-batches as demo-admin"
            )
        if plan.planted_on:
            planted = ", ".join(f"{o.kind} {o.order_no}" for o in plan.orders if o.kind != "paid")
            click.echo(f"  planted in WeChat's bill of {plan.planted_on}: {planted}")
        _print_showcase(seed=seed, size=size)
    click.echo(f"Seeded in {time.monotonic() - started:.1f} s.")


def _load_demo(
    size: int, seed: int, batch_size: int, credentials_file: Path | None, *, registered_at
) -> None:
    engine: Engine = current_app.extensions["db_engine"]
    credentials_file = credentials_file or DEFAULT_CREDENTIALS
    if region_codes.normalise(current_app.config["CITY_CODE"]) != CITY_CODE:
        click.echo(
            f"warning: CITY_CODE is {current_app.config['CITY_CODE']}, but the demo regions are"
            f" those of {CITY_CODE}; the regions API will not show them",
            err=True,
        )

    changes = loader.upsert_regions(engine, region_tree())
    if changes.added or changes.updated:
        click.echo(f"Regions: {changes.added:,} added, {changes.updated:,} updated.")

    if size == 0:
        click.echo("No demo people asked for (--size 0); regions and staff accounts only.")
    elif loader.registration_exists(engine, registration_ref(seed, size - 1, "medical")):
        click.echo(f"Demo data already loaded ({size:,} people, seed {seed}); nothing to add.")
    else:
        _load_people(engine, size=size, seed=seed, batch_size=batch_size, now=registered_at)

    _ensure_staff(engine, credentials_file)


def _load_people(engine: Engine, *, size: int, seed: int, batch_size: int, now) -> None:
    started = time.monotonic()
    before = loader.counts(engine)
    last_report = started

    def progress(done: int) -> None:
        nonlocal last_report
        now = time.monotonic()
        if size >= PROGRESS_FROM and (now - last_report >= 2 or done == size):
            last_report = now
            click.echo(f"  {done:,} / {size:,} people ({now - started:.0f} s)", err=True)

    loader.load_people(
        engine, people(seed, size), now=now, batch_size=batch_size, on_batch=progress
    )
    after = loader.counts(engine)
    added = {
        "people": after.enrollees - before.enrollees,
        "registrations": after.registrations - before.registrations,
        "special_groups": after.memberships - before.memberships,
    }
    with unit_of_work() as session:
        audit.record(
            session,
            actor=ACTOR,
            action="seed.demo",
            region_code=CITY_CODE,
            detail={"seed": seed, "size": size, **added},
        )
    click.echo(
        f"Loaded demo people (seed {seed}) in {time.monotonic() - started:.1f} s:"
        f" {added['people']:,} people, {added['registrations']:,} registrations,"
        f" {added['special_groups']:,} special-group entries added"
        f" (now {after.enrollees:,} people)."
    )


def _ensure_staff(engine: Engine, path: Path) -> None:
    created: dict[str, tuple[str, str, str]] = {}
    with unit_of_work() as session:
        for name, role, region in DEMO_STAFF:
            if session.scalar(select(StaffUser.id).where(StaffUser.name == name)) is None:
                token = create_staff(
                    session,
                    name=name,
                    role=role,
                    region=region,
                    actor=ACTOR,
                    days=current_app.config["APP_CONFIG"].STAFF_TOKEN_DAYS,
                    now=clock().now(),
                )
                created[name] = (role, region_codes.normalise(region), token)
    database = engine.url.render_as_string(hide_password=True)
    if not created:
        if set(_read_credentials(path).get(database, {})) >= {name for name, _, _ in DEMO_STAFF}:
            names = ", ".join(name for name, _, _ in DEMO_STAFF)
            click.echo(f"Demo staff tokens ({names}): see {path}")
        else:
            click.echo(
                f"Demo staff accounts exist, but {path} does not hold their tokens for this"
                " database; make another account with"
                " `flask staff create NAME --role ROLE --region CODE`."
            )
        return
    _write_credentials(path, database, created)
    click.echo(f"Created demo staff accounts (tokens also written to {path}):")
    for name, (role, region, token) in created.items():
        click.echo(f"  {name:<20} {role:<7} {region}  Authorization: Bearer {token}")


# The file holds one section per database, so seeding a scratch database (tests, benchmarks)
# never loses the tokens of the one a developer works with.
_FILE_HEADER = (
    "# Demo staff tokens written by `flask seed-demo`, one section per database.\n"
    "# Send one as: Authorization: Bearer <token>"
)
_SECTION = "# database: "

Entries = dict[str, tuple[str, str, str]]  # name -> (role, region, token)


def _read_credentials(path: Path) -> dict[str, Entries]:
    sections: dict[str, Entries] = {}
    if not path.exists():
        return sections
    current: Entries | None = None
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith(_SECTION):
            current = sections.setdefault(line.removeprefix(_SECTION), {})
        elif current is not None and line and not line.startswith("#"):
            parts = line.split()
            if len(parts) == 4:
                current[parts[0]] = (parts[1], parts[2], parts[3])
    return sections


def _write_credentials(path: Path, database: str, created: Entries) -> None:
    sections = _read_credentials(path)
    sections.setdefault(database, {}).update(created)
    lines = [_FILE_HEADER]
    for name_of_database, entries in sections.items():
        lines += ["", _SECTION + name_of_database, "# name role region token"]
        lines += [
            f"{name} {role} {region} {token}" for name, (role, region, token) in entries.items()
        ]
    path.parent.mkdir(parents=True, exist_ok=True)
    # Tokens are secrets: readable by the owner only, from the moment the file exists.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write("\n".join(lines) + "\n")


def _print_showcase(*, seed: int, size: int) -> None:
    picks = showcase(seed, size)
    people_shown = [
        p
        for p in (picks.ordinary, picks.dibao, picks.poverty, picks.student, picks.senior)
        if p is not None
    ]
    members = list(picks.household.members) if picks.household else []
    with unit_of_work() as session:
        present, status = _stored(session, people_shown + members)
    book = policy_book()
    place = {row.code: row for row in region_tree()}
    click.echo("Try these with the resident lookup (ID number + name):")
    labelled = [
        ("ordinary adult", picks.ordinary),
        ("dibao 低保", picks.dibao),
        ("poverty 建档立卡", picks.poverty),
        ("student", picks.student),
        (f"aged {picks.senior.age}" if picks.senior else "senior", picks.senior),
    ]
    missing = False
    for label, person in labelled:
        if person is None or person.id_number not in present:
            missing = True
        else:
            click.echo(
                f"  {_pad(label, 16)} {person.id_number}  {_pad(person.name, 6)}  "
                f"{_expectation(book, person, status)}"
            )
    if not (picks.household and all(m.id_number in present for m in members)):
        missing = True
    else:
        household = picks.household
        click.echo(
            f"  household {household.household_no} ({len(members)} people,"
            f" {_place_name(place, household.village_code)}): pay for all in one order"
        )
        base = current_app.config["APP_CONFIG"].PUBLIC_BASE_URL.rstrip("/")
        click.echo(f"    their village's QR code link: {base}/q/{household.village_code}")
        for member in members:
            click.echo(
                f"    {_pad(RELATION[member.relation], 14)} {member.id_number}  "
                f"{_pad(member.name, 6)}  "
                f"{_expectation(book, member, status)}"
            )
    if missing:
        click.echo("  (some kinds of people are not among these; a bigger --size has them all)")


def _stored(session: Session, persons: list[Person]) -> tuple[set[str], dict[str, str]]:
    """Which of these people are in the database under the same name, and their statuses."""
    numbers = [p.id_number for p in persons]
    names = {p.id_number: p.name for p in persons}
    present = {
        number
        for number, name in session.execute(
            select(Enrollee.id_number, Enrollee.name).where(Enrollee.id_number.in_(numbers))
        )
        if names[number] == name
    }
    refs = [r.ref for p in persons for r in p.registrations]
    status = {
        ref: value
        for ref, value in session.execute(
            select(Registration.ref, Registration.status).where(Registration.ref.in_(refs))
        )
    }
    return present, status


def _place_name(place: dict[str, RegionRow], village_code: str) -> str:
    village = place[village_code]
    township = place[village.parent_code]
    county = place[township.parent_code]
    return county.name + township.name + village.name


def _pad(text: str, width: int) -> str:
    """Left-justify for a terminal, where a Chinese character takes two columns."""
    columns = sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)
    return text + " " * max(0, width - columns)


def _expectation(book: PolicyBook, person: Person, status: dict[str, str]) -> str:
    """What the lookup should show for this person, computed by the fee engine itself."""
    parts = []
    groups = person.group_names
    for reg in person.registrations:
        try:
            policy = book.scheme_policy(person.village_code, reg.scheme, reg.period_year)
            text = _quote_text(policy, person, reg, groups)
        except (PolicyNotFound, NotEligible) as exc:
            text = f"{reg.scheme} {reg.period_year}: {exc}"
        if status.get(reg.ref, RegistrationStatus.UNPAID) != RegistrationStatus.UNPAID:
            text += f"（当前状态 {status[reg.ref]}）"
        parts.append(text)
    if not any(r.scheme == "pension" for r in person.registrations):
        if person.is_student:
            parts.append("在校学生不参加养老")
        elif person.age >= 60:
            parts.append("已满60周岁，不参加养老")
        else:
            parts.append("未满16周岁，不参加养老")
    return "；".join(parts)


def _quote_text(
    policy: SchemePolicy, person: Person, reg: RegistrationRow, groups: tuple[str, ...]
) -> str:
    if reg.scheme == "medical":
        year = quote(
            policy, birth_date=person.birth_date, groups=groups, is_student=person.is_student
        )
        text = (
            f"医疗{reg.period_year} 应缴 {yuan_text(year.payable_fen, whole_without_cents=True)} 元"
        )
        if year.gov_paid_fen:
            text += f"（政府资助 {yuan_text(year.gov_paid_fen, whole_without_cents=True)} 元）"
        if reg.study_years_left and reg.study_years_left > 1:
            years = min(reg.study_years_left, policy.max_years)
            whole = quote(
                policy, birth_date=person.birth_date, groups=groups, is_student=True, years=years
            )
            text += f"，学校 {reg.school_code} 可一次缴 {years} 年共 {yuan_text(whole.payable_fen, whole_without_cents=True)} 元"
        return text
    lowest = quote(policy, birth_date=person.birth_date, groups=groups)
    text = f"养老{reg.period_year} 最低档 {lowest.grade_yuan} 元，应缴 {yuan_text(lowest.payable_fen, whole_without_cents=True)} 元"
    if lowest.gov_paid_fen:
        text += f"（政府代缴 {yuan_text(lowest.gov_paid_fen, whole_without_cents=True)} 元）"
    return (
        text
        + f"，缴费补贴 {yuan_text(lowest.contribution_subsidy_fen, whole_without_cents=True)} 元"
    )
