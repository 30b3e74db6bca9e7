"""Conversion statuses and the words networks use for them."""

from django.db import models


class Status(models.TextChoices):
    APPROVED = "approved"
    PENDING = "pending"
    REJECTED = "rejected"
    REVERSED = "reversed"


TEST_WORD = "test"

SYNONYMS = {
    Status.APPROVED: (
        "1",
        "approved",
        "approve",
        "approval",
        "confirmed",
        "confirm",
        "success",
        "successful",
        "completed",
        "complete",
        "sale",
        "lead",
        "paid",
        "credited",
        "valid",
        "accepted",
        "ok",
        "true",
        "yes",
    ),
    Status.PENDING: ("pending", "hold", "on_hold", "onhold", "held", "waiting", "processing", "review", "in_review"),
    Status.REJECTED: (
        "0",
        "rejected",
        "reject",
        "declined",
        "decline",
        "denied",
        "deny",
        "invalid",
        "fraud",
        "failed",
        "fail",
        "cancelled",
        "canceled",
        "false",
        "no",
    ),
    Status.REVERSED: ("reversed", "reverse", "reversal", "chargeback", "charged_back", "refunded", "refund", "revoked"),
}
WORDS = {word: status for status, words in SYNONYMS.items() for word in words}


# The moves a network's postbacks may make between statuses. Rejected and reversed are final, so a replayed approval
# cannot credit a conversion again. Beyond pending -> approved/rejected and approved -> reversed, two moves are allowed
# because refusing them would ignore a network's "no": pending -> reversed (nothing was paid, so it ends the conversion
# like a rejection) and approved -> rejected (what several networks send for a chargeback; the points go back as for
# a reversal).
MOVES = {
    Status.PENDING: frozenset({Status.APPROVED, Status.REJECTED, Status.REVERSED}),
    Status.APPROVED: frozenset({Status.REVERSED, Status.REJECTED}),
    Status.REJECTED: frozenset(),
    Status.REVERSED: frozenset(),
}
# What Network.allow_reapproval adds: a network that approves what it rejected or reversed before.
REAPPROVALS = {Status.REJECTED: frozenset({Status.APPROVED}), Status.REVERSED: frozenset({Status.APPROVED})}


def move_allowed(previous, new, allow_reapproval=False):
    """Whether a conversion may go from status `previous` to `new` (a different one) on a network's postback."""
    allowed = MOVES[previous]
    if allow_reapproval:
        allowed = allowed | REAPPROVALS.get(previous, frozenset())
    return new in allowed


class UnknownStatus(ValueError):
    pass


def normalise_status(raw, mapping=None):
    """Return (status, is_test) for a status as a network sent it.

    A network's own mapping (its keys matched regardless of case) wins over the common words; no status means approved,
    because networks that post only approved conversions send none.
    """
    if raw is None or str(raw).strip() == "":
        return Status.APPROVED, False
    value = str(raw).strip()
    mapping = mapping or {}
    mapped = mapping.get(value)
    if mapped is None:
        # Networks change case between releases ("Approved", "APPROVED"); an exact key still wins over a folded one.
        folded = value.casefold()
        mapped = next((target for key, target in mapping.items() if str(key).strip().casefold() == folded), None)
    if mapped is not None:
        return Status(mapped), False
    word = value.lower().replace("-", "_").replace(" ", "_")
    if word == TEST_WORD:
        return Status.APPROVED, True
    if word in WORDS:
        return WORDS[word], False
    known = ", ".join(sorted(WORDS, key=lambda w: (not w.isdigit(), w)))
    raise UnknownStatus(f"status {value!r} is not recognised; use one of: {known}, test")
