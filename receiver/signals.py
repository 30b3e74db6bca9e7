"""The one hand-over from the receiver to forwarding: sent after commit, once per conversion event."""

from django.dispatch import Signal

# Sent with event_id=<ConversionEvent pk> once the transaction that created the event has committed.
conversion_event_committed = Signal()
