"""The receiver's hand-over to forwarding, so that the receiver never imports the partners app."""

from django.dispatch import Signal

# Sent with event=<ConversionEvent> inside the transaction that creates the event: receivers add
# their own rows (deliveries) to that same transaction.
conversion_event_created = Signal()

# Sent with event_id=<ConversionEvent pk> once that transaction has committed.
conversion_event_committed = Signal()
