"""What an operator sees of a running server: Prometheus metrics (metrics.py, exposition.py),
OpenTelemetry traces (tracing.py) and structured logs (logs.py).

A leaf of the package: everyone may import it, and it imports nothing of Aegra's. The rest of the
code reports events through the functions of these modules, never through prometheus_client or
OpenTelemetry directly, so that each family has one home and one name.
"""
