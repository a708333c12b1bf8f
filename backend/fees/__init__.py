"""Fee calculation for resident pension and medical contributions, with the policy kept as data.

Load the policy files once with ``PolicyBook.load()``, look up a region's ``SchemePolicy`` and
price a person with ``quote`` or ``pension_options``. Pure Python: no web framework, no database.
"""

from backend.fees.engine import (
    BreakdownLine,
    InvalidGrade,
    NotEligible,
    Quote,
    applied_group,
    pension_options,
    quote,
)
from backend.fees.policy import (
    GROUPS,
    LEVELS,
    SCHEMES,
    Funding,
    Grade,
    GroupAid,
    PolicyBook,
    PolicyNotFound,
    SchemePolicy,
)

__all__ = [
    "GROUPS",
    "LEVELS",
    "SCHEMES",
    "BreakdownLine",
    "Funding",
    "Grade",
    "GroupAid",
    "InvalidGrade",
    "NotEligible",
    "PolicyBook",
    "PolicyNotFound",
    "Quote",
    "SchemePolicy",
    "applied_group",
    "pension_options",
    "quote",
]
