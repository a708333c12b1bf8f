"""Finance totals (财政配套): what the government paid for a county's residents, per special group,
and how the policy shares it between the province, the city and the county.

totals.py is the arithmetic (pure); sources.py reads the paid items it adds up.
"""
