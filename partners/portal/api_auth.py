"""The partner API's way in: a partner token (Authorization: Bearer pt_...), found by its hash, good for its partner."""

from datetime import timedelta

from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, permissions

from .models import PartnerToken, token_hash

# last_used_at is written at most this often per token: a busy script does not write on every read.
USED_EVERY = timedelta(minutes=1)


class TokenCaller:
    """Who calls with a partner token: no Django user, only the token's partner."""

    is_authenticated = True
    is_staff = is_superuser = False

    def __init__(self, token):
        self.token = token
        self.partner = token.partner

    def has_perm(self, perm, obj=None):
        return False


class PartnerTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        parts = authentication.get_authorization_header(request).split()
        if not parts or parts[0].lower() != self.keyword.lower().encode():
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed("give the token as Authorization: Bearer <token>")
        try:
            key = parts[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed("not a partner token") from None
        token = (
            PartnerToken.objects.select_related("partner")
            .filter(key_hash=token_hash(key), revoked_at__isnull=True)
            .first()
        )
        if token is None:
            raise exceptions.AuthenticationFailed("unknown or revoked partner token")
        now = timezone.now()
        if token.last_used_at is None or token.last_used_at < now - USED_EVERY:
            PartnerToken.objects.filter(pk=token.pk).update(last_used_at=now)
        return TokenCaller(token), token

    def authenticate_header(self, request):
        return self.keyword


class HasPartnerToken(permissions.BasePermission):
    """Only a partner token opens the partner API: a staff session or a staff API token does not."""

    def has_permission(self, request, view):
        return isinstance(request.auth, PartnerToken)


class PartnerTokenScheme(OpenApiAuthenticationExtension):
    target_class = PartnerTokenAuthentication
    name = "partnerToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A partner token from the partner portal (API tokens page): one partner's reads only.",
        }
