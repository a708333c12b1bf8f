"""Background jobs and the loop that runs them (`flask worker`): checking open orders at the
platform, following refunds, delivering the tax ledger outbox. Each job is its own unit: one
failing (the bureau down, a database blip) does not stop the others."""
