"""The dashboard's session cookie and who it says is signed in.

Flask's signed cookie session (SECRET_KEY), kept to /staff: HttpOnly, SameSite=Lax, Secure when the
request came over https (behind a proxy, once ProxyFix says so), and a lifetime of
STAFF_SESSION_MINUTES. The lifetime is also checked on the business clock at every request (the
cookie's own expiry is the browser's wall clock), so a demo or a test that moves the clock sees
the sign-in end.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask import Flask, current_app, g, request, session
from flask.sessions import SecureCookieSessionInterface

from backend.auth.staff import StaffIdentity
from backend.dashboard import csrf, signin
from backend.infra.web import clock, unit_of_work

COOKIE = "staff_session"
PATH = "/staff"


class DashboardSessionInterface(SecureCookieSessionInterface):
    def get_cookie_secure(self, app: Flask) -> bool:
        return request.is_secure


def configure(app: Flask) -> None:
    cfg = app.config["APP_CONFIG"]
    app.session_interface = DashboardSessionInterface()
    app.config.update(
        SESSION_COOKIE_NAME=COOKIE,
        SESSION_COOKIE_PATH=PATH,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=timedelta(minutes=cfg.STAFF_SESSION_MINUTES),
    )


def lifetime() -> timedelta:
    return timedelta(minutes=current_app.config["APP_CONFIG"].STAFF_SESSION_MINUTES)


def start(signed: signin.SignedIn) -> None:
    """A fresh session for the person (nothing of the anonymous one carried over)."""
    session.clear()
    session.permanent = True
    session["staff"] = signed.staff.id
    session["key"] = signed.key
    session["since"] = clock().now().timestamp()
    csrf.renew()


def end() -> None:
    session.clear()


def current() -> StaffIdentity | None:
    """The signed-in person, checked against the account now; clears a session that is over."""
    if "dashboard_staff" in g:
        return g.dashboard_staff
    found = None
    if "staff" in session:
        with unit_of_work() as db:
            found = signin.still_valid(
                db,
                staff_id=session["staff"],
                key=session.get("key", ""),
                signed_in_at=datetime.fromtimestamp(session.get("since", 0), UTC),
                now=clock().now(),
                lifetime=lifetime(),
            )
        if found is None:
            session.clear()
            g.dashboard_expired = True
    g.dashboard_staff = found
    return found
