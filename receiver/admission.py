"""The receiver's admission: the checks a postback or a claim passes, each one function that refuses one way.

Each check returns what the next one needs, or raises Refused with the status, reason and message to store and
answer, and what was known of the request then (its network, its parameters). The endpoints run the checks in
the contract's order and turn a Refused into the stored row and the answer in one place.
"""

from . import services, signatures
from .params import InvalidInput, normalise, raw_params
from .security import rate_limited, unsigned_parameters

CHUNKED = "a chunked body (Transfer-Encoding: chunked) is not accepted; send it with a Content-Length"


class Refused(Exception):
    """A request we do not take: what to answer and store, with the network and parameters known when refused."""

    def __init__(self, status, reason, message, network=None, params=None):
        super().__init__(message)
        self.status, self.reason, self.message = status, reason, message
        self.network, self.params = network, params


def method(inbound, allowed, hint):
    """405 unless the request uses one of the `allowed` methods."""
    if inbound.method not in allowed:
        raise Refused(405, "method_not_allowed", f"{inbound.method} is not allowed; {hint}")


def length(inbound):
    """411 for a chunked body: Django reads no body without a Content-Length, so it is never processed without one."""
    if inbound.chunked:
        raise Refused(411, "length_required", CHUNKED)


def rate(request, group, value, message, network=None, params=None, setting="RECEIVER_RATE_LIMIT"):
    """429 once `value` has sent more than the rate in `setting` allows."""
    if rate_limited(request, group, value, setting):
        raise Refused(429, "rate_limited", message, network, params)


def sender_rate(request, inbound):
    """429 once the sender's address has sent more than RECEIVER_RATE_LIMIT, whatever network it names."""
    address = inbound.remote_addr or "unknown"
    rate(request, "receiver.ip", address, "too many postbacks from this address; slow down and retry")


def network_rate(request, network):
    """429 once the network's postbacks, from any address, exceed RECEIVER_RATE_LIMIT."""
    message = "too many postbacks for this network; slow down and retry"
    rate(request, "receiver.network", str(network.pk), message, network)


def parameters(inbound):
    """(params, error): the request's parameters; when they cannot be read, the query's and why (InvalidInput).

    The key and the signature may be in them, so they are read first; the error is answered only once the
    request is known to be the network's (see `parsed`).
    """
    try:
        return raw_params(inbound), None
    except InvalidInput as exc:
        return {name: inbound.query.get(name) for name in inbound.query}, exc


def network(inbound, params, networks=None):
    """The active network the request's key names (404 otherwise); a token recipe's secret is masked from here on.

    `networks`: a copy of the networks by key (receiver.services.networks), the current one by default."""
    key = inbound.settle_key(params)
    if networks is None:
        networks, _ = services.networks()
    found = networks.get(key) if key else None
    if found is None or not found.is_active:
        reason = "inactive_network" if found else ("unknown_key" if key else "missing_key")
        raise Refused(404, reason, "unknown or inactive postback key", found)
    recipe = found.recipe
    if recipe["scheme"] == "token":  # the secret itself travels in the request: every row masks it
        inbound.secret_names = frozenset({signatures.token_name(recipe).lower()})
        inbound.token = signatures.token_given(recipe, inbound, params)
    return found


def address(inbound, network):
    """403 unless the sender's address is on the network's allowlist (an empty one allows all)."""
    if not network.allows_ip(inbound.remote_addr or ""):
        raise Refused(403, "ip_not_allowed", f"address {inbound.remote_addr} is not allowed for this network", network)


def body_size(inbound, network, params=None):
    """413 when the body was cut off at RECEIVER_BODY_LIMIT: what was cut cannot be processed."""
    if inbound.body_truncated:
        raise Refused(413, "body_too_large", "the body is larger than this receiver accepts", network, params)


def signature(inbound, network, params):
    """401 unless the request carries the signature the network's recipe asks for, over all it says.

    The signature parameter is taken out of `params`: it says how the request was signed, not what it says.
    """
    recipe = network.recipe
    try:
        signatures.verify(recipe, network.hmac_secret, inbound, params)
    except signatures.Failed as exc:
        raise Refused(401, "bad_signature", str(exc), network) from None
    signature_param = signatures.signature_name(recipe)
    if signature_param:
        params.pop(signature_param, None)
    unsigned = unsigned_parameters(recipe, inbound)
    if unsigned:
        message = f"the signature covers the body only; send {', '.join(unsigned)} in the body, not the URL"
        raise Refused(401, "unsigned_parameters", message, network)


def parsed(error, network, params):
    """200 refused (invalid input, which sending again cannot fix) when the parameters could not be read."""
    if error is not None:
        raise Refused(200, error.reason, str(error), network, params)


def fields(network, params):
    """Our fields from the network's parameters (its mappings applied), or 200 refused naming what is invalid."""
    try:
        return normalise(params, network.param_mapping, network.status_mapping, network)
    except InvalidInput as exc:
        raise Refused(200, exc.reason, str(exc), network, params) from None
