"""Save-time SSRF check of a partner URL, with the transport's own rule: a blocked address is refused at once.

The transport checks again at every send, after its own DNS look-up (a name can change its answer), so this
check is for a clear message when the address is known to be blocked; a name that does not resolve yet is left
to the send-time check.
"""

import socket
from urllib.parse import urlsplit

from django.conf import settings
from requests_hardened.ip_filter import InvalidIPAddress, get_ip_address

# Importing the transport also extends the blocked ranges to the ones it adds to requests-hardened's filter.
from partners.transport import failure


def blocked_address(url):
    """The transport's message for a URL whose host is a blocked address; "" when it may be sent to."""
    parts = urlsplit(url)
    if not parts.hostname:
        return ""
    port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
    try:
        get_ip_address(parts.hostname, port, allow_loopback=settings.OUTBOUND_ALLOW_LOOPBACK)
    except InvalidIPAddress as exc:
        return failure(exc)[1]
    except (socket.gaierror, UnicodeError):
        return ""
    return ""
