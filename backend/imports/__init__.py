"""Agency imports: registrations, special groups and students from CSV or XLSX files.

`readers` turns a file into numbered rows without holding it in memory, `rows` checks one row at a
time (pure), `service` applies batches of checked rows to the database in one transaction and
writes the report and the audit entry; `cli` (`flask import ...`) and `backend.api.imports`
are the two doors.
"""

from backend.imports.readers import FileProblem
from backend.imports.rows import KINDS, Rejection
from backend.imports.service import Counts, ImportFailed, ImportReport, run_import

__all__ = [
    "KINDS",
    "Counts",
    "FileProblem",
    "ImportFailed",
    "ImportReport",
    "Rejection",
    "run_import",
]
