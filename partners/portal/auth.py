"""The portal's way in: Django's auth views with the portal's templates, a rate-limited login for partner users
only, and the invitation's one-time set-password link."""

from django.contrib.auth import views as auth_views
from django.urls import reverse_lazy
from django_ratelimit.core import is_ratelimited

from receiver.inbound import client_address

from .access import is_partner_user, partner_user_required
from .forms import PortalLoginForm

# Login tries per minute: per address (a shared office may have several partners behind it), and per username
# (guessing one account's password from many addresses).
LOGIN_RATES = {"address": "20/m", "username": "5/m"}


def login_limited(request):
    """Count this login try; True once the address or the username has tried too often."""
    keys = {"address": client_address(request) or "", "username": request.POST.get("username", "").strip().lower()}
    limited = False
    for name, rate in LOGIN_RATES.items():
        value = keys[name]
        limited |= is_ratelimited(
            request, group=f"portal-login-{name}", key=lambda _group, _request: value, rate=rate, increment=True
        )
    return limited


class LoginView(auth_views.LoginView):
    template_name = "portal/login.html"
    authentication_form = PortalLoginForm
    next_page = reverse_lazy("portal:home")

    def post(self, request, *args, **kwargs):
        if login_limited(request):
            # The password is not even checked: a guesser learns nothing until the window ends.
            form = self.authentication_form(request, initial={"username": request.POST.get("username", "")})
            return self.render_to_response(self.get_context_data(form=form, rate_limited=True), status=429)
        return super().post(request, *args, **kwargs)


class SetPasswordView(auth_views.PasswordResetConfirmView):
    """The invitation's link: Django's reset token, valid once, for partner users only."""

    template_name = "portal/set_password.html"
    success_url = reverse_lazy("portal:set_password_done")

    def get_user(self, uidb64):
        user = super().get_user(uidb64)
        return user if user is not None and is_partner_user(user) else None


login = LoginView.as_view()
logout = auth_views.LogoutView.as_view(next_page="portal:login")
set_password = SetPasswordView.as_view()
set_password_done = auth_views.PasswordResetCompleteView.as_view(template_name="portal/set_password_done.html")
password_change = partner_user_required(
    auth_views.PasswordChangeView.as_view(
        template_name="portal/password_change.html", success_url=reverse_lazy("portal:password_change_done")
    )
)
password_change_done = partner_user_required(
    auth_views.PasswordChangeDoneView.as_view(template_name="portal/password_change_done.html")
)
