"""Government-paid batches (代缴/资助): registrations whose whole contribution the government pays.

Such a registration can never be ordered in WeChat (there is nothing to pay), so it would stay
unpaid. Per county × scheme × period_year the agency drafts a batch of them (batches.py, priced by
eligible.py), finance pays it, and the agency confirms it (confirming.py): each still unpaid,
still fully government-paid registration is credited with channel `government` and told to the
tax bureau like any other payment (payer: finance).
"""
