import os

# What template.yaml's Globals give every function; set before any attract module creates its Metrics.
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "attract")
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "Attract")
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
