"""Logger, tracer and metrics, created once per process (configured by POWERTOOLS_* variables)."""

from aws_lambda_powertools import Logger, Metrics, Tracer

# Our only outbound calls go through botocore. Without a list, X-Ray's patch_all tries to import
# every library it can trace (sqlite3, requests, httpx, database drivers...) on every cold start.
TRACED_MODULES = ("botocore",)

logger = Logger()
tracer = Tracer(patch_modules=TRACED_MODULES)
metrics = Metrics()
