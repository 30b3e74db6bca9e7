"""Read a /metrics answer with prometheus_client's own parser: one sample's value by name and labels."""

from prometheus_client.parser import text_string_to_metric_families

TOKEN = "metrics-token-for-the-tests-0123456789"


def samples(text):
    """{(sample name, frozenset of label pairs): value} of every sample in the exposition."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(found, metric, /, **labels):
    """The sample's value, 0 when it is absent (a counter nobody has moved yet)."""
    return found.get((metric, frozenset((key, str(label)) for key, label in labels.items())), 0)
