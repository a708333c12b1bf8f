"""The money watch: does the money WeChat took add up to what we credited, refunded and hold in
open discrepancies, day by day (backend/money/watch.py)."""
