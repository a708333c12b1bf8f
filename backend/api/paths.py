"""Path converters shared by the views."""

# A row id in a URL: a positive database integer (PostgreSQL's `integer` is 32-bit). A larger
# number is no such row (404) instead of a value the database refuses to compare (a 500).
ROW_ID = "int(min=1, max=2147483647)"
