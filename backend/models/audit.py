"""Audit log: who did what to which data, written in the same transaction as the change."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, String
from sqlalchemy.orm import Mapped, mapped_column

from backend.infra.database import Base
from backend.models._types import UTCDateTime, stamp


class AuditEntry(Base):
    __tablename__ = "audit_entry"

    id: Mapped[int] = mapped_column(primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, default=stamp, index=True)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(48), index=True)
    # Required: who sees the entry depends on it (see backend.infra.audit).
    region_code: Mapped[str] = mapped_column(String(12))
    target: Mapped[str | None] = mapped_column(String(128), default=None)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
