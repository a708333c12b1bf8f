"""SQLAlchemy 2.0 typed models, one module per aggregate. Importing this package registers them all."""

from backend.infra.database import Base
from backend.models.audit import AuditEntry
from backend.models.bills import WeChatBill
from backend.models.bulletins import Bulletin
from backend.models.collectors import CollectingUnit, CollectorBatch, CollectorBatchItem
from backend.models.discrepancies import ReconDiscrepancy
from backend.models.enrollees import Enrollee, SpecialGroupMembership
from backend.models.government import GovernmentBatch, GovernmentBatchItem
from backend.models.ledger import LedgerAttempt, LedgerMessage
from backend.models.money import MoneyCheck
from backend.models.orders import OrderItem, PaymentOrder
from backend.models.progress import ProgressChange, ProgressDay, ProgressRoll
from backend.models.refunds import Refund
from backend.models.regions import Region
from backend.models.registrations import Registration
from backend.models.schools import SchoolBatch
from backend.models.staff import StaffUser
from backend.models.subscriptions import Subscription, WeChatMessage

__all__ = [
    "AuditEntry",
    "Base",
    "Bulletin",
    "CollectingUnit",
    "CollectorBatch",
    "CollectorBatchItem",
    "Enrollee",
    "GovernmentBatch",
    "GovernmentBatchItem",
    "LedgerAttempt",
    "LedgerMessage",
    "MoneyCheck",
    "OrderItem",
    "PaymentOrder",
    "ProgressChange",
    "ProgressDay",
    "ProgressRoll",
    "ReconDiscrepancy",
    "Refund",
    "Region",
    "Registration",
    "SchoolBatch",
    "SpecialGroupMembership",
    "StaffUser",
    "Subscription",
    "WeChatBill",
    "WeChatMessage",
]
