"""Collecting units (代征单位): villages, townships and health service institutions collect
contributions locally and pay them at the tax bureau under one summary serial (单据号).

The work plan's section 五, step by step:

1. The agency gives each unit its list of registered residents: `roster.py` (XLSX).
2. The unit collects locally and records who paid (a pension grade): `recording.py` (one at a
   time) and `upload.py` (the list back, filled in). Each registration is priced by the fee
   engine and held (unpaid -> pending, and the batch item's unique held_registration_id), so
   nobody can pay it in WeChat meanwhile, and one paid or being paid in WeChat cannot be recorded.
3. The agency closes the unit's batch and makes its 单据号 (`closing.py`); cancelling before the
   declaration releases the holds.
4. The worker declares the batch to the bureau (`declaring.py`), which accepts or refuses each
   registration (the refused are released, with the bureau's reason), then confirms the treasury
   entries of the accepted ones (`entries.py`): each is credited (channel collector) and entered.
5. The worker pushes the booking details to the data exchange platform (`booking.py`).

`units.py` says which unit a collector account collects for; `views.py` reads batches for the API
and the dashboard; `sending.py` is the claim, lease and back-off both pushes share; `wire.py`
the signed HTTP clients; `holds.py` what the order path asks about a collector's hold.
"""
