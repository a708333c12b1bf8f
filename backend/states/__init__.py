"""Where every status change lives.

Each aggregate with a status (order, registration, refund, tax ledger message) has an enum and a
transition table here, in plain Python (`orders.py`, `registrations.py`, `refunds.py`,
`ledger.py`, on the generic `machine.py`). `transitions.py` turns a table into the one function
that changes that aggregate's status in the database: a guarded
`UPDATE ... WHERE status IN (<the event's sources>)`, which tells whether it won and writes the
follow-up rows (audit entry, outbox messages) only when it did.
"""
