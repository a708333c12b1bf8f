"""The staff dashboard in the browser (/staff/): campaign progress for leaders and agencies, a
village's unpaid list for its cadre, operations for reconciliation staff and admins.

Plain Flask with Jinja templates; a signed session cookie after signing in with an account name
and its token; ECharts served from node_modules. The bearer-token JSON API stays for scripts.
"""

from __future__ import annotations

from flask import Flask


def init_dashboard(app: Flask) -> None:
    from backend.dashboard import collecting, session  # noqa: F401  (collecting adds its pages)
    from backend.dashboard.views import bp

    session.configure(app)
    app.register_blueprint(bp)
