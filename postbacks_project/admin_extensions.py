"""Extension points of one app's admin page for the apps built on it: inlines, list filters, actions and panels.

The owning app registers its model once; an app that adds to its page (partners to the conversion and network
pages, the test tool to the partner list) fills the page's `Extensions` from its AppConfig.ready. The admin reads
them on each request, so neither the load order nor a second registration of another app's model comes into it.
"""

from django.contrib import admin
from django.contrib.admin.options import IS_POPUP_VAR


class Extensions:
    """What other apps add to one admin page; a panel is `panel(request, obj) -> html or None`, shown above the form."""

    def __init__(self):
        self.inlines = []
        self.list_filters = []
        self.actions = []
        self.panels = []

    def add(self, *, inlines=(), list_filters=(), actions=(), panels=()):
        """Idempotent: a second call with the same items (a test's reload of an app) adds nothing."""
        for kept, items in (
            (self.inlines, inlines),
            (self.list_filters, list_filters),
            (self.actions, actions),
            (self.panels, panels),
        ):
            kept.extend(item for item in items if item not in kept)


class ExtensibleAdmin(admin.ModelAdmin):
    """A model admin whose page takes other apps' additions from `extensions`."""

    extensions = None  # an Extensions, one per page, set by the subclass

    def get_inlines(self, request, obj):
        return [*super().get_inlines(request, obj), *self.extensions.inlines]

    def get_list_filter(self, request):
        return [*super().get_list_filter(request), *self.extensions.list_filters]

    def get_actions(self, request):
        actions = super().get_actions(request)
        # The same rules as the admin's own actions: none in a popup or where actions are switched off.
        if self.actions is None or IS_POPUP_VAR in request.GET:
            return actions
        for action in self.extensions.actions:
            needed = getattr(action, "allowed_permissions", ())
            if all(getattr(self, f"has_{name}_permission")(request) for name in needed):
                func, name, description = self.get_action(action)
                actions[name] = (func, name, description)
        return actions

    def panels(self, request, obj):
        """The other apps' panels for this object, each already rendered."""
        return [html for panel in self.extensions.panels if (html := panel(request, obj))]
