"""A daily chart drawn server-side as inline SVG: conversion bars and a gross-payout line, no JavaScript, no CDN."""

from decimal import ROUND_HALF_UP, Decimal

from django.utils.html import escape, format_html, format_html_join
from django.utils.safestring import mark_safe

from .money import round_payout

WIDTH, HEIGHT = 900, 260
LEFT, RIGHT, TOP, BOTTOM = 50, 70, 20, 40
PLOT_W, PLOT_H = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
MAX_DATE_LABELS = 10
# A period that starts before the first conversion is charted from that day, but never over fewer days than this.
MIN_DAYS = 7
BAR_COLOR, LINE_COLOR = "#79aec8", "#c26e1a"


def _px(value):
    # Pixel positions only: the money itself stays Decimal, and one decimal place is plenty for a screen.
    return str(Decimal(value).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


def charted(days):
    """The days to draw: from the first with a conversion, and at least the last MIN_DAYS of them.

    A new hub's one or two days in the default 30 were one thin spike at the chart's right edge; from its first
    conversion, they are bars a reader can tell apart, on days the axis names.
    """
    first = next((i for i, day in enumerate(days) if day.conversions), len(days))
    return days[min(first, max(0, len(days) - MIN_DAYS)) :]


def daily_chart(days, currency):
    """SVG for [Day(day, conversions, gross)]: one bar per day with conversions, a line for the gross payout; the
    period's leading days without conversions are left out (charted)."""
    days = charted(days)
    if not days:
        return ""
    max_n = max(day.conversions for day in days) or 1
    max_gross = max(day.gross for day in days) or Decimal(1)
    slot = Decimal(PLOT_W) / len(days)
    bar_w = max(slot * Decimal("0.7"), Decimal(1))
    base = TOP + PLOT_H

    def y_count(n):
        return base - Decimal(PLOT_H) * n / max_n

    def y_gross(amount):
        return base - Decimal(PLOT_H) * amount / max_gross

    bars = format_html_join(
        "",
        '<rect class="bar" data-day="{}" x="{}" y="{}" width="{}" height="{}" fill="{}"><title>{}: {} conversion(s), '
        "{} {}</title></rect>",
        (
            (
                day.day.isoformat(),
                _px(LEFT + slot * i + (slot - bar_w) / 2),
                _px(y_count(day.conversions)),
                _px(bar_w),
                _px(base - y_count(day.conversions)),
                BAR_COLOR,
                day.day.isoformat(),
                day.conversions,
                round_payout(day.gross, currency),
                currency,
            )
            for i, day in enumerate(days)
            if day.conversions
        ),
    )
    points = " ".join(f"{_px(LEFT + slot * i + slot / 2)},{_px(y_gross(day.gross))}" for i, day in enumerate(days))
    every = max(1, -(-len(days) // MAX_DATE_LABELS))
    date_labels = format_html_join(
        "",
        '<text x="{}" y="{}" text-anchor="middle">{}</text>',
        (
            (_px(LEFT + slot * i + slot / 2), base + 16, day.day.strftime("%m-%d"))
            for i, day in enumerate(days)
            if i % every == 0
        ),
    )
    axes = format_html(
        '<line x1="{l}" y1="{b}" x2="{r}" y2="{b}" stroke="#888"/>'
        '<line x1="{l}" y1="{t}" x2="{l}" y2="{b}" stroke="{bc}"/>'
        '<line x1="{r}" y1="{t}" x2="{r}" y2="{b}" stroke="{lc}"/>'
        '<text x="{lt}" y="{b}" text-anchor="end">0</text>'
        '<text x="{lt}" y="{tt}" text-anchor="end">{max_n}</text>'
        '<text x="{rt}" y="{b}">0</text>'
        '<text x="{rt}" y="{tt}">{max_gross}</text>'
        '<text x="12" y="{mid}" transform="rotate(-90 12 {mid})" text-anchor="middle" fill="{bc}">conversions</text>'
        '<text x="{rl}" y="{mid}" transform="rotate(90 {rl} {mid})" text-anchor="middle" fill="{lc}">'
        "gross payout ({cur})</text>"
        '<text x="{cx}" y="{dl}" text-anchor="middle">day</text>',
        l=LEFT,
        r=LEFT + PLOT_W,
        t=TOP,
        b=base,
        tt=TOP + 4,
        lt=LEFT - 6,
        rt=LEFT + PLOT_W + 6,
        rl=WIDTH - 8,
        mid=TOP + PLOT_H // 2,
        cx=LEFT + PLOT_W // 2,
        dl=HEIGHT - 4,
        max_n=max_n,
        max_gross=round_payout(max_gross, currency),
        cur=currency,
        bc=BAR_COLOR,
        lc=LINE_COLOR,
    )
    line = format_html(
        '<polyline class="gross" points="{}" fill="none" stroke="{}" stroke-width="2"/>', points, LINE_COLOR
    )
    return mark_safe(
        f'<svg xmlns="http://www.w3.org/2000/svg" class="daily-chart" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="100%" role="img" aria-label="{escape("Conversions and gross payout per day")}" '
        f'font-size="11" font-family="sans-serif">{axes}{bars}{line}{date_labels}</svg>'
    )
