"""Making, keeping and finding bulletins.

A bulletin belongs to the region it ranks the children of: the city (the 通报 the city sends
to its counties) or a county (its townships). It is made from the rollup, rolled first so the
day is complete, and stored with its figures and both files; making the same region, scheme,
period year and day again replaces it.

Who may read one: staff inside its region (the city's staff read the city's), and staff of a
region it ranks, since a 通报 is sent to every county it ranks: a county's staff read the city
bulletins ranking their county (all counties are on the same page, as on paper). A department
reads its own scheme only (人社 pension, 医保 medical); any other bulletin is, to them, absent.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import ColumnElement, Select, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.auth.staff import StaffIdentity
from backend.bulletins import compose, files
from backend.errors import NotFound, Refused
from backend.fees import PolicyBook, PolicyNotFound
from backend.fees.policy import SchemePolicy
from backend.infra import audit
from backend.infra.uow import UnitOfWork
from backend.models import Bulletin
from backend.posters.fonts import Typeface
from backend.progress.query import lagging_villages, progress
from backend.progress.rollup import roll
from backend.values import region_codes as regions
from backend.values.beijing import beijing_today
from backend.values.labels import SCHEME_SHORT

log = logging.getLogger(__name__)

SCHEMES = ("pension", "medical")
LEVELS = ("city", "county")  # whose children a bulletin ranks
KINDS = {"xlsx", "pdf"}


@dataclass(frozen=True)
class Made:
    id: int
    region_code: str
    scheme: str
    period_year: int
    as_of: date
    summary: str
    xlsx: bytes
    pdf: bytes
    replaced: bool

    @property
    def stem(self) -> str:
        return stem(self.region_code, self.scheme, self.as_of)


def stem(region_code: str, scheme: str, as_of: date) -> str:
    """bulletin-4107-medical-20191118: the files' name without the extension."""
    return f"bulletin-{regions.scope_prefix(region_code)}-{scheme}-{as_of:%Y%m%d}"


def policy_of(book: PolicyBook, region_code: str, scheme: str, day: date) -> SchemePolicy:
    """The scheme's policy of the collection year `day` falls in (the latest one begun by
    then): its period year is the one the bulletin counts (medical 2020 is collected in 2019)."""
    years = [year for year in book.collection_years(region_code) if year <= day.year]
    try:
        if not years:
            raise PolicyNotFound(day.year)
        _, policies = book.collection(region_code, years[-1])
        return next(p for p in policies if p.scheme == scheme)
    except (PolicyNotFound, StopIteration):
        raise NotFound(
            f"{day.year}年没有{SCHEME_SHORT[scheme]}缴费政策，无法生成通报。", reason="no_policy"
        ) from None


def make(
    uow: UnitOfWork,
    book: PolicyBook,
    typeface: Typeface,
    *,
    region_code: str,
    scheme: str,
    day: date,
    actor: str,
) -> Made:
    """Roll the progress journal, read the figures as of `day`, compose, paint and store."""
    region_code = regions.normalise(region_code)
    if regions.level_of(region_code) not in LEVELS:
        raise Refused("通报按全市或区县生成：请给出市或县（市、区）的代码。", reason="not_ranked")
    policy = policy_of(book, region_code, scheme, day)
    now = uow.clock.now()
    roll(uow, now=now)
    with uow as session:
        figures, name = _figures(session, book, region_code, policy, day, beijing_today(now))
    summary = compose.summary(figures)
    xlsx, pdf = files.xlsx(figures, name), files.pdf(figures, name, typeface)
    for attempt in (1, 2):
        try:
            with uow as session:
                bulletin, replaced = _store(
                    session,
                    region_code=region_code,
                    scheme=scheme,
                    period_year=policy.period_year,
                    as_of=day,
                    figures=figures,
                    summary=summary,
                    xlsx=xlsx,
                    pdf=pdf,
                    actor=actor,
                )
            break
        except IntegrityError:
            # Made at the same moment by someone else: the second pass replaces theirs.
            if attempt == 2:
                raise
    return Made(
        bulletin, region_code, scheme, policy.period_year, day, summary, xlsx, pdf, replaced
    )


def _figures(
    session: Session,
    book: PolicyBook,
    region_code: str,
    policy: SchemePolicy,
    day: date,
    today: date,
) -> tuple[compose.Figures, str]:
    asked = {
        "scheme": policy.scheme,
        "period_year": policy.period_year,
        "day": day,
        "policies": book,
    }
    found = progress(session, region_code=region_code, today=today, **asked)
    parts = {
        child.code: progress(session, region_code=child.code, today=today, **asked).children
        for child in found.children
    }
    rate = found.region.counts.completion_rate
    villages = lagging_villages(session, region_code=region_code, below=rate, **asked)
    names = {child.code: child.name for child in found.children}
    names.update({p.code: p.name for places in parts.values() for p in places})

    def where(code: str) -> str:
        # The village's county and township, below the region the bulletin ranks.
        above = [regions.normalise(code[:6]), regions.normalise(code[:9])]
        return "".join(names.get(c, "") for c in above if c != region_code)

    previous = session.scalar(
        select(Bulletin.figures)
        .where(
            Bulletin.region_code == region_code,
            Bulletin.scheme == policy.scheme,
            Bulletin.period_year == policy.period_year,
            Bulletin.as_of < day,
        )
        .order_by(Bulletin.as_of.desc())
        .limit(1)
    )
    figures = compose.figures(
        region=found.region,
        level=found.region.level,
        scheme=policy.scheme,
        period_year=policy.period_year,
        as_of=day,
        rolled_day=found.rolled_day,
        deadline=found.deadline,
        schedule=compose.schedule_rate(day, opens=policy.window[0], target=policy.deadline),
        children=found.children,
        parts=parts,
        lagging=[(village, where(village.code)) for village in villages],
        previous=previous,
    )
    return figures, found.region.name


def _store(session: Session, *, actor: str, **values) -> tuple[int, bool]:
    key = ("region_code", "scheme", "period_year", "as_of")
    bulletin = session.scalar(
        select(Bulletin).where(*(getattr(Bulletin, k) == values[k] for k in key))
    )
    replaced = bulletin is not None
    if bulletin is None:
        bulletin = Bulletin(**values, created_by=actor)
        session.add(bulletin)
    else:
        for name, value in values.items():
            setattr(bulletin, name, value)
        bulletin.created_by = actor
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="bulletin.replace" if replaced else "bulletin.make",
        region_code=values["region_code"],
        target=stem(values["region_code"], values["scheme"], values["as_of"]),
        detail={"period_year": values["period_year"]},
    )
    return bulletin.id, replaced


def weekly(
    uow: UnitOfWork,
    book: PolicyBook,
    typeface: Typeface,
    *,
    region_code: str,
    weekday: int,
) -> list[Made]:
    """On the bulletin weekday (ISO: 1 Monday … 7 Sunday), the region's pension and medical
    bulletins as of the day before, each made once: one already stored is left as it is."""
    today = beijing_today(uow.clock.now())
    if today.isoweekday() != weekday:
        return []
    as_of = today - timedelta(days=1)
    made = []
    for scheme in SCHEMES:
        try:
            policy = policy_of(book, region_code, scheme, as_of)
        except NotFound:
            continue
        with uow as session:
            stored = session.scalar(
                select(Bulletin.id).where(
                    Bulletin.region_code == regions.normalise(region_code),
                    Bulletin.scheme == scheme,
                    Bulletin.period_year == policy.period_year,
                    Bulletin.as_of == as_of,
                )
            )
        if stored is None:
            made.append(
                make(
                    uow,
                    book,
                    typeface,
                    region_code=region_code,
                    scheme=scheme,
                    day=as_of,
                    actor="worker",
                )
            )
    return made


# --- reading ------------------------------------------------------------------------------------


def readable(staff: StaffIdentity) -> list[ColumnElement[bool]]:
    """The bulletins a staff member may read, as SQL conditions (see the module's rule)."""
    return [
        Bulletin.scheme.in_([scheme for scheme in SCHEMES if staff.handles(scheme)]),
        or_(
            Bulletin.region_code.startswith(staff.scope_prefix, autoescape=True),
            Bulletin.region_code.in_(above(staff.region_code)),
        ),
    ]


def above(code: str) -> list[str]:
    """The regions a region lies in: a village's city, county and township."""
    own = len(regions.scope_prefix(code))
    return [regions.normalise(code[:digits]) for digits in (4, 6, 9) if digits < own]


def listed(staff: StaffIdentity, *, scheme: str | None = None) -> Select:
    """The bulletins the staff member may read, newest first, without their files."""
    query = (
        select(
            Bulletin.id,
            Bulletin.region_code,
            Bulletin.scheme,
            Bulletin.period_year,
            Bulletin.as_of,
            Bulletin.summary,
            Bulletin.created_by,
            Bulletin.created_at,
        )
        .where(*readable(staff))
        .order_by(Bulletin.as_of.desc(), Bulletin.id.desc())
    )
    if scheme is not None:
        query = query.where(Bulletin.scheme == scheme)
    return query


def listed_one(session: Session, staff: StaffIdentity, bulletin_id: int):
    """One bulletin as the list shows it; NotFound when absent or not theirs."""
    row = session.execute(listed(staff).where(Bulletin.id == bulletin_id)).first()
    if row is None:
        raise NotFound("没有找到这期通报。", reason="unknown_bulletin")
    return row


def file_of(session: Session, staff: StaffIdentity, bulletin_id: int, kind: str):
    """(bytes, file name) of one bulletin's XLSX or PDF; NotFound when absent or not theirs."""
    row = session.execute(
        select(
            getattr(Bulletin, kind), Bulletin.region_code, Bulletin.scheme, Bulletin.as_of
        ).where(Bulletin.id == bulletin_id, *readable(staff))
    ).first()
    if row is None:
        raise NotFound("没有找到这期通报。", reason="unknown_bulletin")
    data, region_code, scheme, as_of = row
    return data, f"{stem(region_code, scheme, as_of)}.{kind}"
