"""Using the staff dashboard (/staff/) as a browser would, with a requests.Session for cookies."""

from __future__ import annotations

import json
import re
from html import unescape

from sqlalchemy import update

from backend.auth.staff import create_staff
from backend.models import StaffUser

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_CHART = re.compile(r"data-chart='([^']*)'")


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


def sign_in(http, base_url: str, name: str, token: str, *, next_page: str | None = None):
    """Open the sign-in form, then post it with its token; the answer (redirects not followed)."""
    form = http.get(base_url + "/staff/login")
    assert form.status_code == 200, form.text
    data = {"name": name, "token": token, "csrf_token": csrf_of(form.text)}
    if next_page:
        data["next"] = next_page
    return http.post(base_url + "/staff/login", data=data, allow_redirects=False)


def staff_account(
    app,
    name: str,
    role: str,
    region: str,
    department: str | None = None,
    school_code: str | None = None,
) -> str:
    """A staff account; its token."""
    with app.extensions["db_sessions"]() as session:
        token = create_staff(
            session,
            name=name,
            role=role,
            region=region,
            actor="test",
            department=department,
            school_code=school_code,
        )
        session.commit()
    return token


def disable(app, name: str, at) -> None:
    with app.extensions["db_sessions"]() as session:
        session.execute(update(StaffUser).where(StaffUser.name == name).values(disabled_at=at))
        session.commit()


def charts_of(html: str) -> list[dict]:
    """The data of every chart on a page (its data-chart attributes)."""
    return [json.loads(unescape(raw)) for raw in _CHART.findall(html)]


def text_of(html: str) -> str:
    """The page's words without tags, spaces squeezed."""
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html))).strip()
