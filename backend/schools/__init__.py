"""School batches (学校代缴, the work plan's section 四(三)): a school pays its full-time students'
medical contributions, each student for up to their remaining study years at once, with one
WeChat Pay QR code (NATIVE) for the whole batch.

A school account (role school, one school code) sees its students (students.py: the medical
registrations the agency imported with its school code, inside the account's region), makes a
batch (batches.py: each student's years priced by years.py; the later years registered and
pushed to the bureau; one order through the ordinary order machinery, channel school), follows
it (views.py) and gives back a student's unused years when their study ends early (refunds.py,
through the ordinary refund service). Paying, expiry, the poller, reconciliation and the tax
ledger treat the batch's order like any other order.
"""
