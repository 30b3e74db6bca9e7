"""The portal's URLs, under /portal/: the auth views, and each partner's pages by the partner's id."""

from django.urls import path

from . import auth, export, rotation, testing, tokens, views

app_name = "portal"

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", auth.login, name="login"),
    path("logout/", auth.logout, name="logout"),
    path("password/", auth.password_change, name="password_change"),
    path("password/done/", auth.password_change_done, name="password_change_done"),
    path("set-password/<uidb64>/<token>/", auth.set_password, name="set_password"),
    path("set-password/done/", auth.set_password_done, name="set_password_done"),
    path("partners/<int:partner_id>/settings/", views.postback_settings, name="settings"),
    path("partners/<int:partner_id>/secret/", rotation.rotate_secret, name="rotate_secret"),
    path("partners/<int:partner_id>/test/", testing.send_test, name="test_postback"),
    path("partners/<int:partner_id>/test/<uuid:batch>/", testing.test_result, name="test_result"),
    path("partners/<int:partner_id>/test/<uuid:batch>/state/", testing.test_state, name="test_state"),
    path("partners/<int:partner_id>/tokens/", tokens.api_tokens, name="api_tokens"),
    path("partners/<int:partner_id>/tokens/<int:token_id>/revoke/", tokens.revoke_token, name="revoke_token"),
    path("partners/<int:partner_id>/stats/", views.partner_stats, name="stats"),
    path("partners/<int:partner_id>/deliveries/", views.deliveries, name="deliveries"),
    path("partners/<int:partner_id>/deliveries/csv/", export.export_csv, name="deliveries_csv"),
    path("partners/<int:partner_id>/deliveries/<int:delivery_id>/", views.delivery, name="delivery"),
    path("partners/<int:partner_id>/deliveries/<int:delivery_id>/resend/", views.resend, name="resend"),
]
