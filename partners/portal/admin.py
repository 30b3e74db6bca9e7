"""Admin of the portal: each partner's portal users with an invitation field, and what they changed (read-only)."""

from django import forms
from django.contrib import admin, messages
from django.forms.models import BaseInlineFormSet
from django.shortcuts import render
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from partners import admin as partners_admin
from receiver.admin import ReadOnlyAdmin

from .changes import review
from .invitations import InvitationError, invite
from .models import ChangeRecord, PartnerMembership, PartnerToken, PendingChange, PortalPartner, Review
from .rotation import rotate


class MembershipInline(admin.TabularInline):
    """Removing a row takes the user's access to this partner away; users are added by invitation only."""

    model = PartnerMembership
    extra = 0
    fields = ["user", "created_at"]
    readonly_fields = fields
    verbose_name_plural = "portal users"

    def has_add_permission(self, request, obj=None):
        return False


class OptionalFormSet(BaseInlineFormSet):
    """A partner form posted without this inline (a script, an older page) saves the partner and leaves the inline
    as it is, instead of failing the whole save for a missing management form."""

    def __init__(self, *args, **kwargs):
        data = kwargs.get("data", args[0] if args else None)
        prefix = kwargs.get("prefix") or self.get_default_prefix()
        self.absent = data is not None and f"{prefix}-TOTAL_FORMS" not in data
        if self.absent:
            args, kwargs = (), {**kwargs, "data": None, "files": None}
        super().__init__(*args, **kwargs)

    def is_valid(self):
        return self.absent or super().is_valid()

    def save(self, commit=True):
        if self.absent:
            self.new_objects, self.changed_objects, self.deleted_objects = [], [], []
            return []
        return super().save(commit)


class ChangeInline(admin.TabularInline):
    model = ChangeRecord
    formset = OptionalFormSet
    extra = 0
    can_delete = False
    ordering = ["-id"]
    fields = ["created_at", "user", "approved_by", "field", "old_value", "new_value"]
    readonly_fields = fields
    verbose_name_plural = "changes made in the portal"

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class ReviewForm(forms.ModelForm):
    decision = forms.ChoiceField(
        choices=[("", "-"), ("approve", "approve"), ("reject", "reject")],
        required=False,
        help_text="Applied when the page is saved.",
    )
    reviewer = None  # set per request by the inline

    class Meta:
        model = PendingChange
        fields = ["note"]

    def has_changed(self):
        return bool(self.data.get(self.add_prefix("decision"))) or super().has_changed()

    def save(self, commit=True):
        decision = self.cleaned_data.get("decision")
        if not decision:
            return super().save(commit)
        problem = review(self.instance, self.reviewer, decision == "approve", self.cleaned_data.get("note", ""))
        self.instance.refresh_from_db()
        self.problem = problem
        return self.instance


class PendingChangeInline(admin.TabularInline):
    """The partner user's change waiting for approval (the partner's portal_changes_need_approval): approve applies
    it, checked again, and records it field by field; reject leaves the partner as it is."""

    model = PendingChange
    form = ReviewForm
    formset = OptionalFormSet
    extra = 0
    can_delete = False
    fields = ["created_at", "user", "changes", "note", "decision"]
    readonly_fields = ["created_at", "user", "changes"]
    verbose_name_plural = "portal changes waiting for approval"

    def get_queryset(self, request):
        return super().get_queryset(request).filter(review=Review.PENDING).select_related("user")

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        formset.form = type("ReviewForm", (formset.form,), {"reviewer": request.user})
        return formset

    @admin.display(description="change (old → new)")
    def changes(self, obj):
        rows = [
            format_html("<b>{}</b>: {} → {}", name, obj.old_values.get(name, ""), value)
            for name, value in obj.new_values.items()
        ]
        return mark_safe("<br>".join(rows))

    def has_add_permission(self, request, obj=None):
        return False


class InviteForm(forms.ModelForm):
    invite = forms.EmailField(
        required=False,
        label="Invite a portal user",
        help_text="On save, emails this address a one-time link to set a password and log in to /portal/ for "
        "this partner (the account is made if it does not exist).",
    )

    rotate_secret = forms.BooleanField(
        required=False,
        label="Rotate the signing secret",
        help_text="On save, makes a new signing secret and shows it once, on the next page; the current one keeps "
        "signing requests (beside the new one) for PARTNER_SECRET_ROTATION_HOURS.",
    )

    class Meta:
        model = PortalPartner
        fields = ["portal_changes_need_approval"]


@admin.register(PortalPartner)
class PortalPartnerAdmin(admin.ModelAdmin):
    """A partner's page for its portal: its users, an invitation, and the changes they made. The terms stay on the
    partner's own page."""

    form = InviteForm
    list_display = ["name", "slug", "sending_state", "users"]
    search_fields = ["name", "slug", "portal_memberships__user__email"]
    fields = ["name", "slug", "portal_changes_need_approval", "invite", "rotate_secret"]
    readonly_fields = ["name", "slug"]
    inlines = [MembershipInline, PendingChangeInline, ChangeInline]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("portal_memberships__user")

    @admin.display(description="state")
    def sending_state(self, obj):
        return obj.sending_state

    @admin.display(description="portal users")
    def users(self, obj):
        return ", ".join(m.user.email or m.user.username for m in obj.portal_memberships.all()) or "-"

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        # Of the partner itself only the approval setting is written here, whatever else the loaded copy holds.
        if "portal_changes_need_approval" in form.changed_data:
            obj.save(update_fields=["portal_changes_need_approval"])
        if form.cleaned_data.get("rotate_secret"):
            request.new_signing_secret = rotate(obj, request.user)
        email = form.cleaned_data.get("invite")
        if not email:
            return
        try:
            invitation = invite(obj, email)
        except InvitationError as exc:
            self.message_user(request, f"Not invited: {exc}.", messages.ERROR)
            return
        self.message_user(request, f"Invited {invitation.user.email} to {obj}'s portal: the link is on its way.")

    def response_change(self, request, obj):
        secret = getattr(request, "new_signing_secret", None)
        if secret is None:
            return super().response_change(request, obj)
        # Shown on this answer only, never through a message (stored in the session or a cookie) nor a page later.
        context = {**self.admin_site.each_context(request), "partner": obj, "secret": secret, "opts": self.opts}
        response = render(request, "admin/partners/secret_once.html", context)
        add_never_cache_headers(response)
        response["Cache-Control"] += ", no-store"
        return response


@admin.register(PartnerMembership)
class PartnerMembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "partner", "created_at"]
    list_filter = ["partner"]
    search_fields = ["user__email", "user__username", "partner__name"]
    raw_id_fields = ["user", "partner"]
    list_select_related = ["user", "partner"]

    def has_add_permission(self, request):
        # Through an invitation (the partner's portal page, or manage.py invite_partner_user), which sends the link.
        return False


@admin.register(ChangeRecord)
class ChangeRecordAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "partner", "user", "field", "old_value", "new_value"]
    list_filter = ["field", "partner"]
    list_select_related = ["partner", "user"]
    search_fields = ["partner__name", "user__email", "old_value", "new_value"]
    raw_id_fields = ["partner", "user"]
    date_hierarchy = "created_at"


@admin.register(PartnerToken)
class PartnerTokenAdmin(admin.ModelAdmin):
    """Tokens are made in the portal (their key is shown there once); here they can only be seen and revoked."""

    list_display = ["name", "partner", "hint", "created_by", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["partner", ("revoked_at", admin.EmptyFieldListFilter)]
    list_select_related = ["partner", "created_by"]
    search_fields = ["name", "hint", "partner__name"]
    readonly_fields = ["partner", "name", "hint", "created_by", "created_at", "last_used_at", "revoked_at"]
    fields = readonly_fields
    show_full_result_count = False
    actions = ["revoke"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description="Revoke the selected partner tokens", permissions=["change"])
    def revoke(self, request, queryset):
        count = queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
        self.message_user(request, f"Revoked {count} partner token(s).")


@admin.register(PendingChange)
class PendingChangeAdmin(ReadOnlyAdmin):
    """Every change that waited for approval, and what became of it (reviewed on the partner's page)."""

    list_display = ["created_at", "partner", "user", "review", "reviewed_by", "reviewed_at", "note"]
    list_filter = ["review", "partner"]
    list_select_related = ["partner", "user", "reviewed_by"]
    search_fields = ["partner__name", "user__email", "note"]
    raw_id_fields = ["partner", "user", "reviewed_by"]


# The partner's own page shows what its portal users changed and what waits for approval.
partners_admin.add_inline(PendingChangeInline)
partners_admin.add_inline(ChangeInline)
