"""Admin for offer claims: a network's outgoing postback edited on the network's page, and reporting claims.

None of it is registered here: partners.admin_hooks adds it to the receiver's network and conversion pages.
"""

from django.contrib import admin, messages
from django.urls import reverse
from django.utils.html import format_html

from receiver.models import Source

from .models import NetworkPostback
from .redelivery import report_claims
from .templating import known_macros_text


class OutgoingPostbackInline(admin.StackedInline):
    model = NetworkPostback
    fk_name = "network"
    max_num = 1
    extra = 0
    can_delete = False
    verbose_name = "outgoing postback (reports this network's offer claims)"
    verbose_name_plural = verbose_name
    fields = ["postback_url", "method", "body_template", "body_type", "headers", "is_active", "full_page"]
    readonly_fields = ["full_page"]

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        url_field = formset.form.base_fields["postback_url"]
        url_field.help_text = (
            "Sent once per claim, e.g. https://network.example/acquisition?click_id={click_id}"
            "&txn_id={conversion_id}&goal_value={goal}&sale_amount={payout}. Known macros: " + known_macros_text() + "."
        )
        url_field.widget.attrs["size"] = 100
        return formset

    @admin.display(description="signing, limits, breaker")
    def full_page(self, obj):
        if obj is None or obj.pk is None:
            return "(after saving: its own page has a signing secret, sending limits and the breaker's state)"
        url = reverse("admin:partners_networkpostback_change", args=[obj.pk])
        return format_html('<a href="{}">Open {} on its own page</a>', url, obj.name)


class NotReportedFilter(admin.SimpleListFilter):
    title = "reported to the network"
    parameter_name = "reported"

    def lookups(self, request, model_admin):
        return [("yes", "claims reported"), ("no", "claims not reported")]

    def queryset(self, request, queryset):
        claims = queryset.filter(source=Source.CLAIM)
        if self.value() == "yes":
            return claims.filter(not_reported="")
        if self.value() == "no":
            return claims.exclude(not_reported="")
        return queryset


@admin.action(description="Report the selected unreported claims to their networks now")
def report_to_network(modeladmin, request, queryset):
    report = report_claims(queryset.filter(source=Source.CLAIM).order_by("id"))
    level = messages.SUCCESS if report.queued else messages.WARNING
    modeladmin.message_user(request, f"Report to the network: {report.summary()}.", level)
