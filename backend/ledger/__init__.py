"""The tax bureau's ledger: the outbox of messages to it, their delivery, its confirmations."""
