"""Reconciliation: WeChat's daily bill, settlement files, matching (design.md section 9)."""
