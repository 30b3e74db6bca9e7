"""The operations guide's metrics table, scrape config and example alert rules match what /metrics exports."""

import re
from pathlib import Path

import yaml
from prometheus_client.metrics import MetricWrapperBase

from partners.gauges import DatabaseCollector
from postbacks_project import metrics

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "operations.md"
# PromQL words the example rules use that are not metric names.
PROMQL = {"max", "min", "sum", "rate", "and"}


def exported():
    """Every metric name a scrape can carry: the counters and histograms, as exposed, and the database's gauges."""
    names = {
        counter._name + ("_total" if counter._type == "counter" else "")
        for counter in vars(metrics).values()
        if isinstance(counter, MetricWrapperBase)
    }
    return names | {family.name for family in DatabaseCollector().collect()}


def section(heading):
    text = GUIDE.read_text(encoding="utf-8")
    start = text.index(f"\n## {heading}\n")
    return text[start : text.index("\n## ", start + 1)]


def table_names():
    rows = [line for line in section("Metrics").splitlines() if line.startswith("| `")]
    return {name for row in rows for name in re.findall(r"`([a-z_]+)`", row.split("|")[1])}


def yaml_block(title):
    """The YAML block under the Metrics section's bold `title`, loaded: it must be valid YAML."""
    return yaml.safe_load(section("Metrics").split(f"**{title}**")[1].split("```")[1].removeprefix("yaml"))


def rule_names():
    """The metric names in the example rules' `expr`s."""
    exprs = " ".join(rule["expr"] for group in yaml_block("Example alert rules.")["groups"] for rule in group["rules"])
    # Label matchers, ranges and `by (labels)` name no metric.
    bare = re.sub(r"\{[^}]*\}|\[[^]]*\]|by \([^)]*\)", " ", exprs)
    return set(re.findall(r"[a-z_][a-z0-9_]*", bare)) - PROMQL


def test_the_metrics_table_lists_every_metric_and_no_other(db):
    assert table_names() == exported()


def test_the_example_alert_rules_use_only_exported_metrics(db):
    used = rule_names()

    assert {"deliveries_due_oldest_age_seconds", "delivery_attempts_total", "network_last_postback_age_seconds"} <= used
    assert used <= exported()


def test_the_scrape_config_reads_metrics_with_the_bearer_token():
    [job] = yaml_block("Scrape config.")["scrape_configs"]

    assert job["metrics_path"] == "/metrics"
    assert job["authorization"]["type"] == "Bearer"
