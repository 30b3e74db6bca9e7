"""Where a committed conversion event enters forwarding."""


def forward_event(sender, event_id, **kwargs):
    """Receive the receiver's hand-over. Deliveries to partners are built by the forwarding issue (#4)."""
