"""Helpers shared by the management commands: finding networks, reading decimals and key=value pairs."""

from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.core.management.base import CommandError

from receiver.models import Network
from receiver.params import as_pk


def network_by_ref(ref):
    """A network by its numeric id or its key."""
    network = Network.objects.filter(pk=as_pk(ref)).first() if as_pk(ref) is not None else None
    network = network or Network.objects.filter(key=ref).first()
    if network is None:
        raise CommandError(f"no network with id or key {ref!r}")
    return network


def pairs(values, option):
    """Parse repeated A=B options into a dict, naming the bad one."""
    result = {}
    for value in values or []:
        left, sep, right = value.partition("=")
        if not sep or not left.strip() or not right.strip():
            raise CommandError(f"{option} expects A=B, got {value!r}")
        result[left.strip()] = right.strip()
    return result


def save_valid(instance):
    """full_clean then save; validation errors become one readable CommandError."""
    try:
        instance.full_clean()
    except ValidationError as exc:
        lines = [f"{field}: {' '.join(msgs)}" for field, msgs in exc.message_dict.items()]
        raise CommandError("invalid input:\n  " + "\n  ".join(lines)) from None
    instance.save()
    return instance


def decimal_arg(value, option, example):
    """A finite Decimal from the command line (never a float), or a CommandError naming the option."""
    try:
        number = Decimal(value)
    except InvalidOperation:
        number = None
    if number is None or not number.is_finite():
        raise CommandError(f"{option} {value!r} is not a decimal number such as {example}")
    return number
