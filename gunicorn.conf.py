"""gunicorn settings for the API (scripts/run.sh passes --config gunicorn.conf.py; a deployment
should too). Each value is chosen, not left to chance; the workers stay sync (2 per 2 cores: the
benchmarks' setting), so a slow client ties up a worker and the limits below bound that."""

# A worker silent this long is killed and its request answered 502. The slowest request that is
# meant to succeed is an agency import of a full 64 MB file (about 500,000 rows at 13,000 rows/s,
# about 40 s, applied in one transaction); order creation waits at most 10 s on WeChat. 120 s
# leaves room for both on a busy machine and still frees a worker stuck on a dead peer.
timeout = 120

# On a restart or deploy (SIGTERM) a worker gets this long to finish what it is doing. Lookups and
# orders end within seconds; an import cut short rolls back whole (nothing half-applied), so 30 s
# is enough and keeps deploys quick.
graceful_timeout = 30

# Seconds an idle kept-alive connection is held open. Sync workers close after every response, so
# this only matters for async workers; short, so that idle clients cannot hold workers.
keepalive = 2

# The request line (method, path, query): the longest we serve is a staff list with its filters,
# well under 2 KB; larger is 414 before the app sees it.
limit_request_line = 4094

# Header count: the mini-program and the dashboard send about 15, WeChat and the bureau fewer;
# 50 refuses header floods with 400 and leaves room for proxies' X-Forwarded-* headers.
limit_request_fields = 50

# One header's size: a staff session cookie or a bearer token is under 1 KB; 8 KB is gunicorn's
# own bound, kept.
limit_request_field_size = 8190
