"""The worker's round: every job runs, one failing does not keep the others from their work."""

from __future__ import annotations

from backend.jobs.catalogue import Job, Outcome
from backend.jobs.runner import run_round


def test_a_failing_job_is_reported_and_the_others_still_run():
    ran = []

    def orders(uow):
        ran.append("orders")
        raise ConnectionError("the platform is down")

    def refunds(uow):
        ran.append("refunds")
        return Outcome("sent 1", worth_telling=True)

    def ledger(uow):
        ran.append("ledger")
        return Outcome("delivered 0", worth_telling=False)

    jobs = [Job("orders", orders), Job("refunds", refunds), Job("ledger", ledger)]
    report = run_round(jobs, lambda: None, tell_all=False)
    assert ran == ["orders", "refunds", "ledger"]
    assert report.failed == ["orders"]
    assert report.lines == ["orders: failed (ConnectionError)", "refunds: sent 1"]


def test_a_full_batch_makes_the_next_round_start_at_once():
    busy = Job("ledger", lambda uow: Outcome("delivered 50", True, more_waiting=True))
    quiet = Job("orders", lambda uow: Outcome("credited 0", False))
    assert run_round([quiet, busy], lambda: None, tell_all=True).more_waiting
    assert not run_round([quiet], lambda: None, tell_all=True).more_waiting
