"""deploy/: the Grafana dashboard's queries name only series the server exports, and the
Prometheus example scrapes the path the server answers."""

from __future__ import annotations

import json
import re
from pathlib import Path

from prometheus_client import Counter, Gauge, Histogram

from aegra.telemetry import metrics

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def _exported() -> set[str]:
    names = set()
    for value in vars(metrics).values():
        if isinstance(value, Counter):
            names.add(f"{value._name}_total")
        elif isinstance(value, Gauge):
            names.add(value._name)
        elif isinstance(value, Histogram):
            names.update(f"{value._name}_{suffix}" for suffix in ("bucket", "sum", "count"))
    return names


def test_the_dashboard_queries_only_exported_series() -> None:
    dashboard = json.loads((DEPLOY / "grafana-dashboard.json").read_text())
    queries = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    assert len(queries) > 20
    used = {name for query in queries for name in re.findall(r"\b(aegra_[a-z_]+|process_[a-z_]+)\b", query)}
    process = {"process_cpu_seconds_total", "process_resident_memory_bytes", "process_open_fds"}
    assert used - _exported() - process == set()
    assert len(_exported() & used) >= 20, "most families are on the dashboard"


def test_the_prometheus_example_scrapes_metrics() -> None:
    text = (DEPLOY / "prometheus.yml").read_text()
    assert "metrics_path: /metrics" in text and "scrape_configs:" in text
