"""The receiver's hand-over to forwarding, so that the receiver never imports the partners app."""

from django.dispatch import Signal

# Sent with event=<ConversionEvent> inside the transaction that creates the event, once per new
# conversion or status change and never for a duplicate. The event is the outbox: receivers make
# no deliveries here, they queue the worker that routes it (with transaction.on_commit), so the
# postback's transaction stays small and nothing is queued for one that rolls back.
conversion_event_created = Signal()

# Sent with conversion=<Conversion> inside the transaction of `manage.py reconvert`, once the conversion has an
# exchange rate it lacked: deliveries that waited for it can get their amounts and go out.
conversion_priced = Signal()
