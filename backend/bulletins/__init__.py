"""通报: bulletins of the campaign's progress as of a day, ranking a region's children by
completion rate, stored with their XLSX and one-page PDF files.

compose.py (pure) turns progress figures into the bulletin's rows and summary text; page.py
(pure) lays the PDF page out; files.py paints the XLSX and the PDF; service.py reads the
progress, keeps the bulletins and says which ones a staff member may read; cli.py is
`flask bulletin`.
"""
