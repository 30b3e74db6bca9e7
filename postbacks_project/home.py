"""The landing page at / (the admin's "View site"): the service's health and where to go from here."""

from django.contrib import admin
from django.shortcuts import render

from receiver import health


def home(request):
    report = health.report()
    context = {**admin.site.each_context(request), "title": "Postback hub", "health": report}
    return render(request, "home.html", context, status=200 if report["status"] == "healthy" else 503)
