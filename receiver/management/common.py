"""Helpers shared by the receiver's management commands."""

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
