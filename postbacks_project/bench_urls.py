"""Benchmark baselines, mounted under /bench/ only when BENCHMARK_ENDPOINTS=true (see bench/receiver.py)."""

from django.http import HttpResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from receiver.models import Outcome, ReceivedPostback


@csrf_exempt
def bare(request):
    """The floor: Django's full request/response cycle and middleware, no database."""
    return HttpResponse("ok")


@csrf_exempt
def insert(request):
    """One autocommitted INSERT into the receiver's own log table: the price of writing at all."""
    ReceivedPostback.objects.create(method=request.method[:10], path=request.path[:500], outcome=Outcome.ACCEPTED)
    return HttpResponse("ok")


urlpatterns = [path("bare/", bare, name="bench-bare"), path("insert/", insert, name="bench-insert")]
