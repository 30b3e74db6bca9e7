"""Admin lists that stay fast at millions of rows: bounded counts, fixed-choice filters, no facet counts.

Django's defaults each read a whole table: the paginator counts every matching row, a filter on a plain field
builds its choices with SELECT DISTINCT, the date hierarchy lists the distinct days, and facets count each choice.
The big tables' admins use these instead; every filter and search they offer has an index behind it.
"""

from datetime import timedelta

from django.contrib import admin
from django.core.paginator import Paginator
from django.db import connections
from django.utils import timezone
from django.utils.functional import cached_property

from postbacks_project import partitions

# Up to this many matching rows are counted exactly; past it, a list shows the estimate (or "more than").
COUNT_CAP = 10_000
RECENT = {
    "1h": ("the last hour", timedelta(hours=1)),
    "24h": ("the last 24 hours", timedelta(days=1)),
    "7d": ("the last 7 days", timedelta(days=7)),
    "30d": ("the last 30 days", timedelta(days=30)),
}


def table_estimate(queryset):
    """PostgreSQL's own estimate of an unfiltered table's rows (kept by ANALYZE and autovacuum); None elsewhere.

    A partitioned table (received postbacks, attempts: by month) is the sum of its partitions' estimates
    (partitions.ESTIMATED_ROWS_SQL); unknown while one holding rows was never analyzed.
    """
    connection = connections[queryset.db]
    if connection.vendor != "postgresql" or queryset.query.where:
        return None
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {partitions.ESTIMATED_ROWS_SQL} FROM pg_class c WHERE c.oid = %s::regclass",
            [queryset.model._meta.db_table],
        )
        row = cursor.fetchone()
    return row[0] if row and row[0] and row[0] > 0 else None


class EstimatedCountPaginator(Paginator):
    """Counts at most COUNT_CAP + 1 rows (a LIMIT inside the COUNT); an unfiltered big table, PostgreSQL's estimate."""

    @cached_property
    def count(self):
        # A whole table past the cap: its estimate alone, without reading a row of it.
        estimate = table_estimate(self.object_list)
        if estimate is not None and estimate > COUNT_CAP:
            return estimate
        # In the list's own order, so the count walks the index the page itself is read by (the newest first).
        capped = self.object_list[: COUNT_CAP + 1].count()
        return capped if capped <= COUNT_CAP else max(estimate or 0, capped)


class BigTableAdmin(admin.ModelAdmin):
    paginator = EstimatedCountPaginator
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER


def choices_filter(field, title, choices):
    """A list filter on `field` offering the given (value, label) choices, not the distinct values of the table."""

    class ChoicesFilter(admin.SimpleListFilter):
        parameter_name = field

        def lookups(self, request, model_admin):
            return choices

        def queryset(self, request, queryset):
            if self.value() is None:
                return queryset
            return queryset.filter(**{field: self.value()})

    ChoicesFilter.title = title
    ChoicesFilter.__name__ = f"{field.title().replace('_', '')}Filter"
    return ChoicesFilter


def status_class_filter(field, title="HTTP status"):
    """2xx, 3xx, 4xx, 5xx or none: a range on the indexed status code."""
    classes = [(f"{hundred}xx", f"{hundred}xx") for hundred in (2, 3, 4, 5)]

    class StatusClassFilter(admin.SimpleListFilter):
        parameter_name = f"{field}_class"

        def lookups(self, request, model_admin):
            return [*classes, ("none", "no answer")]

        def queryset(self, request, queryset):
            value = self.value()
            if value == "none":
                return queryset.filter(**{f"{field}__isnull": True})
            if value in dict(classes):
                low = int(value[0]) * 100
                return queryset.filter(**{f"{field}__gte": low, f"{field}__lt": low + 100})
            return queryset

    StatusClassFilter.title = title
    return StatusClassFilter


def recent_filter(field, title):
    """The last hour, day, week or month on an indexed time: a range, not the distinct days of a date hierarchy."""

    class RecentFilter(admin.SimpleListFilter):
        parameter_name = f"{field}_within"

        def lookups(self, request, model_admin):
            return [(key, label) for key, (label, _) in RECENT.items()]

        def queryset(self, request, queryset):
            if self.value() not in RECENT:
                return queryset
            return queryset.filter(**{f"{field}__gte": timezone.now() - RECENT[self.value()][1]})

    RecentFilter.title = title
    return RecentFilter
