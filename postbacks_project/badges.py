"""A state as a coloured badge in admin lists; each app says which of its states take which tone."""

from django.utils.html import format_html

# Tones, styled in static/hub.css: done well, went wrong, still moving, set aside.
OK, BAD, WAIT, OFF = "ok", "bad", "wait", "off"


def badge(value, label, tones):
    """<span class="badge badge-ok">succeeded</span>: `tones` maps a value to its tone; others are plain."""
    return format_html('<span class="badge badge-{}">{}</span>', tones.get(value, OFF), label)
