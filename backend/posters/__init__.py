"""Village QR posters: an A4 page per village (PDF, or a PNG image) that a county office prints
and posts on the village notice board.

The poster carries the village's full name, a QR code of `{PUBLIC_BASE_URL}/q/{village_code}`
(which leads to the mini-program with the village chosen), the two schemes with their period
years, amounts and deadlines, the collection window and short numbered instructions.

- content.py  the words of a poster, from region names and the fee policy (pure)
- layout.py   where each word, box and the QR code go on the page, in millimetres (pure)
- pdf.py      paints a layout into a PDF (fpdf2, the CJK TrueType font embedded and subset)
- png.py      paints a layout into a PNG (Pillow, the same font)
- service.py  reads the villages of a region from the database and makes the files
- cli.py      `flask posters`
"""
