"""Shared pieces of the integrator API: cursor pagination, query filters, model validation, documented errors."""

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Q
from django.http import JsonResponse
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.views import defaults
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.filters import BaseFilterBackend
from rest_framework.pagination import CursorPagination


class NewestFirst(CursorPagination):
    """Cursor pages, newest row first: stable while rows arrive, and no COUNT(*) over big log tables.

    A bad page_size or cursor is a 400 naming it, like a bad filter (DRF would use 50 rows, or answer 404).
    """

    ordering = "-id"
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500

    def get_page_size(self, request):
        raw = request.query_params.get(self.page_size_query_param, "").strip()
        if not raw:
            return self.page_size
        digits = raw.lstrip("0")
        if not (raw.isascii() and raw.isdigit() and digits):
            message = f"{raw!r} is not a whole number from 1 (a page holds at most {self.max_page_size} rows)"
            raise serializers.ValidationError({self.page_size_query_param: [message]})
        # More than a page holds is a full page, as in DRF; a long number needs no int() to say so.
        return self.max_page_size if len(digits) > 3 else min(int(digits), self.max_page_size)

    def decode_cursor(self, request):
        try:
            cursor = super().decode_cursor(request)
            # The position is an id (we order by id): any other text would reach the database as one.
            position = cursor.position if cursor else None
            if position is not None and not (position.isascii() and position.isdigit()):
                raise NotFound
        except NotFound:
            message = "not a cursor of this list: follow the next and previous links"
            raise serializers.ValidationError({self.cursor_query_param: [message]}) from None
        return cursor

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            parameter["allowEmptyValue"] = True  # an empty one is the first page, of the default size
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"]["minimum"] = 1
        return parameters


@dataclass(frozen=True)
class Filter:
    """One query parameter: `to_q` turns its raw text into a Q, or raises ValueError saying what is wrong."""

    to_q: Callable[[str], Q]
    description: str
    schema: dict = field(default_factory=lambda: {"type": "string"})


def exact(lookup, description):
    return Filter(lambda raw: Q(**{lookup: raw}), description)


def ident(lookup, what):
    def to_q(raw):
        if not (raw.isascii() and raw.isdigit() and len(raw) <= 18):
            raise ValueError(f"{raw!r} is not an id; give the {what}'s numeric id")
        return Q(**{lookup: int(raw)})

    return Filter(to_q, f"The {what}'s id.", {"type": "integer"})


def choice(lookup, values, description):
    """One of `values`; `lookup` is a field name, or a dict of value -> Q for states that are not one column."""

    def to_q(raw):
        if raw not in values:
            raise ValueError(f"{raw!r} is not one of {', '.join(values)}")
        return lookup[raw] if isinstance(lookup, dict) else Q(**{lookup: raw})

    return Filter(to_q, description, {"type": "string", "enum": list(values)})


TRUE, FALSE = ("true", "1", "yes"), ("false", "0", "no")


def flag(lookup, description):
    def to_q(raw):
        if raw.lower() not in TRUE + FALSE:
            raise ValueError(f"{raw!r} is not true or false")
        return Q(**{lookup: raw.lower() in TRUE})

    return Filter(to_q, description, {"type": "boolean"})


def _moment(raw):
    """(start, is_date): a date-time (naive means UTC, our TIME_ZONE), or a date and its first moment."""
    try:
        # Date first: Python's fromisoformat, behind parse_datetime, reads a bare date as midnight.
        day = parse_date(raw)
        moment = None if day else parse_datetime(raw)
    except ValueError:  # well-formed but impossible, such as 2025-02-30
        moment = day = None
    if moment is None and day is None:
        raise ValueError(f"{raw!r} is not a date or date-time; use 2025-01-31 or 2025-01-31T14:00:00Z")
    if day is not None:
        moment = datetime.combine(day, time.min)
    moment = moment if timezone.is_aware(moment) else timezone.make_aware(moment)
    try:
        # In UTC: PostgreSQL takes no offset past 15:59, which Python's can be. And `to` with a date adds a day:
        # both must still be a datetime.
        moment = moment.astimezone(UTC)
        if day is not None:
            moment + timedelta(days=1)
    except OverflowError:
        raise ValueError(f"{raw!r} is out of range") from None
    return moment, day is not None


DATE_SCHEMA = {
    "oneOf": [{"type": "string", "format": "date"}, {"type": "string", "format": "date-time"}],
    "example": "2025-01-31",
}


def date_range(column):
    """`from` and `to` on a row's main timestamp; `to` with a date alone includes that whole day."""

    def since(raw):
        return Q(**{f"{column}__gte": _moment(raw)[0]})

    def until(raw):
        moment, is_date = _moment(raw)
        if is_date:
            return Q(**{f"{column}__lt": moment + timedelta(days=1)})
        return Q(**{f"{column}__lte": moment})

    return {
        "from": Filter(since, f"Rows with {column} at or after this date or date-time (ISO 8601).", DATE_SCHEMA),
        "to": Filter(until, f"Rows with {column} at or before this date-time, or on or before this date.", DATE_SCHEMA),
    }


class QueryFilters(BaseFilterBackend):
    """Applies a view's `query_filters` (name -> Filter); bad values are a 400 naming each parameter."""

    def filter_queryset(self, request, queryset, view):
        errors = {}
        for name, spec in getattr(view, "query_filters", {}).items():
            raw = request.query_params.get(name, "").strip()
            if not raw:
                continue
            if "\x00" in raw:  # PostgreSQL takes no NUL in a query, and no stored value holds one
                errors[name] = ["contains a NUL character"]
                continue
            try:
                queryset = queryset.filter(spec.to_q(raw))
            except ValueError as exc:
                errors[name] = [str(exc)]
        if errors:
            raise serializers.ValidationError(errors)
        return queryset

    def get_schema_operation_parameters(self, view):
        # allowEmptyValue: an empty filter is no filter, as a form with a blank field sends it.
        return [
            {
                "name": name,
                "in": "query",
                "required": False,
                "allowEmptyValue": True,
                "description": spec.description,
                "schema": spec.schema,
            }
            for name, spec in getattr(view, "query_filters", {}).items()
        ]


class ApiViewMixin:
    """What every list of the API shares: newest-first cursor pages and the declared filters."""

    pagination_class = NewestFirst
    filter_backends = [QueryFilters]
    query_filters = {}


class ModelValidationMixin:
    """Runs the model's full_clean on the would-be row, as the admin does, so the API accepts nothing the admin refuses.

    Django's ValidationError becomes DRF's 400 with the same per-field messages.
    """

    def validate(self, attrs):
        attrs = super().validate(attrs)
        model = self.Meta.model
        related = {f.name for f in model._meta.many_to_many}
        plain = {name: value for name, value in attrs.items() if name not in related}
        # A copy, so that a refused update leaves the instance (and anything holding it) untouched.
        candidate = copy.copy(self.instance) if self.instance is not None else model()
        for name, value in plain.items():
            setattr(candidate, name, value)
        try:
            candidate.full_clean()
        except DjangoValidationError as exc:
            raise serializers.ValidationError(serializers.as_serializer_error(exc)) from None
        # clean() may normalise a value (an offer's currency is upper-cased): save what it settled on.
        return {**attrs, **{name: getattr(candidate, name) for name in plain}}


ERROR_SCHEMAS = {
    "Error": {"type": "object", "properties": {"detail": {"type": "string"}}, "required": ["detail"]},
    "ValidationErrors": {
        "type": "object",
        "description": "Each invalid field or query parameter, with what is wrong with it.",
        "additionalProperties": {},
    },
}


FORBIDDEN = "Not a staff user, or one without the Django permission this operation needs (the detail names it)."


def document_errors(result, generator, request, public):
    """drf-spectacular post-processing hook: the error answers DRF gives for every operation, in the schema.

    401 without credentials, 403 for a user who is not staff or lacks the operation's permission, 400 for bad input
    where there is any (a body or query parameters), 415 for a body DRF cannot parse as its declared type, 404 where
    the path names a row.
    """
    result.setdefault("components", {}).setdefault("schemas", {}).update(ERROR_SCHEMAS)
    for path, operations in result.get("paths", {}).items():
        for operation in operations.values():
            errors = {"401": ("Not authenticated.", "Error"), "403": (FORBIDDEN, "Error")}
            if operation.get("requestBody") or any(p["in"] == "query" for p in operation.get("parameters", [])):
                errors["400"] = ("Invalid input.", "ValidationErrors")
            if operation.get("requestBody"):
                errors["415"] = ("A body that cannot be parsed as the content type it declares.", "Error")
            if "{" in path:
                errors["404"] = ("No such row.", "Error")
            responses = operation.setdefault("responses", {})
            for code, (description, name) in errors.items():
                content = {"application/json": {"schema": {"$ref": f"#/components/schemas/{name}"}}}
                responses.setdefault(code, {"description": description, "content": content})
    return result


def not_found(request, exception):
    """The project's 404: JSON under /api/ (a client parses it, and the schema says so), Django's page elsewhere."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Not found."}, status=404)
    return defaults.page_not_found(request, exception)


RECEIVER_PARAMETERS = ("click_id", "transaction_id", "payout", "currency", "status", "goal", "user_id", "sub1")
RECEIVER_ANSWER = {
    "type": "object",
    "description": "success, message and postbackId always; for a conversion also clickId, conversionId, status "
    "and test; for a refusal reason and received_params; duplicate for a repeat.",
    "properties": {
        "success": {"type": "boolean"},
        "message": {"type": "string"},
        "postbackId": {"type": "integer"},
        "clickId": {"type": "string"},
        "conversionId": {"type": "integer", "nullable": True},
        "status": {"type": "string"},
        "test": {"type": "boolean"},
        "duplicate": {"type": "boolean"},
        "reason": {"type": "string"},
    },
    "required": ["success", "message"],
}


def _receiver_operation(summary, key_in):
    """GET and POST of one receiver URL; `key_in` is where the network's postback key goes, "path" or "query"."""
    key = {
        "name": "key",
        "in": key_in,
        "required": True,
        "schema": {"type": "string"},
        "description": "The network's postback key (in the URL on its admin page).",
    }
    parameters = [key] + [
        {"name": name, "in": "query", "required": name == "click_id", "schema": {"type": "string"}}
        for name in RECEIVER_PARAMETERS
    ]
    answer = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/ReceiverAnswer"}}}}
    responses = {
        "200": {"description": "Stored; a conversion, a duplicate, or a refusal the network must not retry.", **answer},
        "401": {"description": "A signature or token the network's recipe requires is missing or wrong.", **answer},
        "404": {"description": "No active network has this key.", **answer},
        "429": {"description": "Too many postbacks from this sender or network: retry later.", **answer},
    }
    operation = {
        "tags": ["receiver"],
        "summary": summary,
        "description": "A network's server-to-server postback. Parameter names are ours or the network's own "
        "(its param_mapping); a POST may carry them as a form or JSON body. Not staff-authenticated: the key and "
        "the network's signature recipe admit it.",
        "parameters": parameters,
        "responses": responses,
        "security": [],
    }
    return {
        method: {**operation, "operationId": f"receiver_postback_key_in_{key_in}_{method}"}
        for method in ("get", "post")
    }


def recent_examples(result, generator, request, public):
    """drf-spectacular post-processing hook: `from` and `to` examples of the last week, so "Try it out" finds rows."""
    today = timezone.localdate()
    examples = {"from": (today - timedelta(days=7)).isoformat(), "to": today.isoformat()}
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                if parameter.get("in") == "query" and parameter["name"] in examples:
                    parameter["schema"] = {**parameter.get("schema", {}), "example": examples[parameter["name"]]}
                    parameter["example"] = examples[parameter["name"]]
    return result


def receiver_endpoints(result, generator, request, public):
    """drf-spectacular post-processing hook: the receiver's own postback endpoints, plain Django views."""
    result.setdefault("components", {}).setdefault("schemas", {})["ReceiverAnswer"] = RECEIVER_ANSWER
    paths = result.setdefault("paths", {})
    paths["/postback/{key}/"] = _receiver_operation("Receive a network's postback (key in the path)", "path")
    paths["/api/postback/"] = _receiver_operation("Receive a network's postback (key as a parameter)", "query")
    return result
