"""Refunds: money given back for one order item, asked by staff or by the system for duplicate
payments, sent to the platform, finished by its notification or by asking."""
