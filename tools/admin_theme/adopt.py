"""What adopting unfold everywhere would look like, without editing an admin.py: each ModelAdmin and inline rebased."""

import functools

from django.apps import AppConfig


class AdoptConfig(AppConfig):
    name = "tools.admin_theme"
    label = "admin_theme_adopt"

    def ready(self):
        from django.contrib import admin
        from django.contrib.admin import StackedInline
        from unfold import admin as unfold_admin

        @functools.cache
        def rebased_inline(cls):
            base = unfold_admin.StackedInline if issubclass(cls, StackedInline) else unfold_admin.TabularInline
            return type(cls.__name__, (cls, base), {"__module__": cls.__module__})

        def get_inlines(self, request, obj):
            return [rebased_inline(inline) for inline in super(type(self), self).get_inlines(request, obj)]

        # The comparison's own registry surgery; the hub's apps never do this (STYLE.md rule 18).
        for model, model_admin in list(admin.site._registry.items()):
            cls = type(model_admin)
            rebased = type(
                cls.__name__, (cls, unfold_admin.ModelAdmin), {"__module__": cls.__module__, "get_inlines": get_inlines}
            )
            admin.site._registry[model] = rebased(model, admin.site)
