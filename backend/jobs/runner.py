"""The job loop: every job once per round, each in its own unit of work, until told to stop.

A job that raises is logged and the round goes on with the next one: a bureau or a platform
that is down must not keep refunds or payments from moving, and the failed job runs again next
round. A job with more waiting (a full batch) makes the next round start at once.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from backend.infra.uow import UnitOfWork
from backend.jobs.catalogue import Job

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RoundReport:
    lines: list[str]  # "name: summary" of the jobs worth telling about, or that failed
    more_waiting: bool
    failed: list[str]


def run_round(
    jobs: Sequence[Job], new_uow: Callable[[], UnitOfWork], *, tell_all: bool
) -> RoundReport:
    lines, failed, more = [], [], False
    for job in jobs:
        try:
            outcome = job.run(new_uow())
        except Exception as exc:  # one job's failure must not stop the others
            log.exception("job %s failed", job.name)
            lines.append(f"{job.name}: failed ({exc.__class__.__name__})")
            failed.append(job.name)
            continue
        more = more or outcome.more_waiting
        if tell_all or outcome.worth_telling:
            lines.append(f"{job.name}: {outcome.summary}")
    return RoundReport(lines, more, failed)


def run_forever(
    jobs: Sequence[Job],
    new_uow: Callable[[], UnitOfWork],
    *,
    interval: float,
    stop: threading.Event,
    echo: Callable[[str], None],
) -> None:
    while True:
        report = run_round(jobs, new_uow, tell_all=False)
        for line in report.lines:
            echo(line)
        if stop.wait(0 if report.more_waiting else interval):
            return
