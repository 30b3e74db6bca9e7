"""The outbox: events recorded by the receiver are routed into their deliveries by the worker, once and in order."""

import threading
from datetime import timedelta

import pytest
import responses
from django.db import connection, transaction
from django.utils import timezone

from partners import outbox
from partners.models import Delivery, Partner, State
from partners.tasks import drain, sweep
from receiver.models import Conversion, ConversionEvent, EventKind, Network

URL = "https://p.example/pb"


@pytest.fixture
def partners(db):
    return [
        Partner.objects.create(name="Pub", slug="pub", postback_url=URL + "?c={click_id}"),
        Partner.objects.create(name="Wall", slug="wall", postback_url=URL + "?c={click_id}", statuses=["approved"]),
    ]


@pytest.fixture
def post(client, network, django_capture_on_commit_callbacks):
    """A postback whose commit hands over nothing (the drainer it wakes is held back); returns its event."""

    def send(click_id="c1", **params):
        with django_capture_on_commit_callbacks(execute=False) as woken:
            answer = client.get(f"/postback/{network.key}/", {"click_id": click_id, "transaction_id": "t1", **params})
        assert answer.json()["success"], answer.json()
        assert len(woken) == 1  # the drainer, to route the event
        return ConversionEvent.objects.order_by("id").last()

    return send


def test_the_receivers_transaction_makes_no_delivery_and_the_worker_routes_the_event(partners, post):
    event = post(status="pending")
    assert (event.routed_at, Delivery.objects.count()) == (None, 0)

    outbox.route()

    event.refresh_from_db()
    assert event.routed_at is not None
    made = {d.destination.partner.slug: (d.state, d.reason) for d in event.deliveries.all()}
    assert made == {"pub": (State.PENDING, ""), "wall": (State.SKIPPED, "status pending is not one of approved")}


def test_routing_an_event_again_makes_none_of_its_deliveries_twice(partners, post):
    event = post()
    outbox.route()
    before = list(Delivery.objects.order_by("id").values_list("id", "destination_id", "state"))
    # As if a second router had read the event before the first one committed.
    ConversionEvent.objects.filter(pk=event.pk).update(routed_at=None)

    outbox.route()

    assert list(Delivery.objects.order_by("id").values_list("id", "destination_id", "state")) == before
    assert not outbox.unrouted().exists()


def test_an_event_whose_routing_crashed_midway_is_routed_whole_on_the_next_run(partners, post, monkeypatch):
    event = post()
    real = outbox.deliveries.skip_reason
    calls = []

    def crash_on_the_second_partner(partner, routed):
        calls.append(partner.pk)
        if len(calls) == 2:
            raise RuntimeError("the worker died here")
        return real(partner, routed)

    monkeypatch.setattr("partners.delivery.skip_reason", crash_on_the_second_partner)
    with pytest.raises(RuntimeError):
        outbox.route_batch()
    assert (Delivery.objects.count(), outbox.unrouted().count()) == (0, 1)

    outbox.route()

    assert sorted(event.deliveries.values_list("destination__partner__slug", flat=True)) == ["pub", "wall"]
    assert not outbox.unrouted().exists()


def test_an_event_that_cannot_be_routed_holds_back_only_its_own_conversion(partners, post, monkeypatch):
    broken = post(click_id="broken")
    later = post(click_id="broken", status="reversed")
    other = post(click_id="other")
    real = outbox.deliveries.skip_reason

    def fail_on_the_broken_event(partner, event):
        if event.pk == broken.pk:
            raise RuntimeError("a bug of ours")
        return real(partner, event)

    monkeypatch.setattr("partners.delivery.skip_reason", fail_on_the_broken_event)

    assert outbox.route() is False  # not out of time: the rest waits for the next run

    assert other.deliveries.count() == 2
    assert set(outbox.unrouted()) == {broken, later}


def test_a_conversions_later_event_is_routed_only_after_its_earlier_one(partners, post):
    pending = post(status="pending")
    approved = post(status="approved")

    assert outbox.route_batch() == (1, 1)  # the pending event; the approval waits for it to be committed
    assert set(outbox.unrouted()) == {approved}
    assert outbox.route_batch() == (1, 2)

    to_pub = {"destination__partner__slug": "pub"}
    assert pending.deliveries.get(**to_pub).id < approved.deliveries.get(**to_pub).id


def test_other_conversions_events_are_routed_together(partners, post):
    for n in range(3):
        post(click_id=f"c{n}")

    assert outbox.route_batch() == (3, 6)
    assert outbox.route_batch() == (0, 0)


def test_a_repriced_event_is_routed_to_no_partner(partners, post):
    event = post()
    outbox.route()
    repriced = ConversionEvent.objects.create(
        conversion=event.conversion, kind=EventKind.REPRICED, to_status=event.to_status, payout=event.payout
    )

    outbox.route()

    repriced.refresh_from_db()
    assert (repriced.routed_at is not None, repriced.deliveries.count()) == (True, 0)


@responses.activate
def test_the_drain_task_routes_before_it_sends(partners, post):
    responses.get(URL)
    post(status="approved")

    drain.apply()

    assert sorted(Delivery.objects.values_list("state", flat=True)) == [State.SUCCEEDED, State.SUCCEEDED]


def test_the_sweep_wakes_the_drainer_for_events_left_unrouted_past_the_grace(partners, post, monkeypatch, settings):
    settings.DELIVERY_SWEEP_GRACE = 60
    queued = []
    monkeypatch.setattr("partners.tasks.drain.apply_async", lambda args, **kwargs: queued.append(args))
    event = post()  # its wake-up is lost: the broker was down at commit

    sweep()
    assert queued == []  # its wake-up may still be on its way

    ConversionEvent.objects.filter(pk=event.pk).update(created_at=timezone.now() - timedelta(seconds=61))
    sweep()
    assert queued == [()]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_routers_skip_the_events_another_one_holds(partners):
    conversions = [_event(f"c{n}") for n in range(2)]
    held, release, done = threading.Event(), threading.Event(), threading.Event()

    def first_router():
        # Holds the first conversion's event, as a router in the middle of its batch does.
        try:
            with transaction.atomic():
                list(outbox.unrouted().filter(pk=conversions[0].pk).select_for_update(skip_locked=True))
                held.set()
                release.wait(30)
        finally:
            connection.close()
            done.set()

    thread = threading.Thread(target=first_router)
    thread.start()
    assert held.wait(30)
    try:
        assert outbox.route_batch() == (1, 1)  # the other conversion's event, without waiting
    finally:
        release.set()
        thread.join()
    assert set(outbox.unrouted()) == {conversions[0]}
    assert outbox.route_batch() == (1, 1)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_router_holding_an_event_does_not_hold_up_a_row_that_references_it(partners, monkeypatch):
    event = _event("c1")
    held, release = threading.Event(), threading.Event()
    create_for_events = outbox.deliveries.create_for_events

    def paused(events):
        held.set()
        release.wait(30)
        return create_for_events(events)

    monkeypatch.setattr(outbox.deliveries, "create_for_events", paused)
    routed = []
    thread = threading.Thread(target=lambda: (routed.append(outbox.route_batch()), connection.close()))
    thread.start()
    assert held.wait(30)
    try:
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL lock_timeout = '5s'")
            Delivery.objects.create(event=event, destination=partners[0], state=State.PENDING)
    finally:
        release.set()
        thread.join()
    assert routed == [(1, 1)]  # the other partner's delivery; the row already there is left alone
    assert sorted(Delivery.objects.filter(event=event).values_list("destination__partner__slug", flat=True)) == [
        "pub",
        "wall",
    ]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_routers_running_at_once_route_each_event_once(partners):
    events = [_event(f"c{n}") for n in range(60)]
    routed, errors = [], []
    start = threading.Barrier(4)

    def router():
        try:
            start.wait(30)
            while True:
                count, _pending = outbox.route_batch(limit=5)
                if not count and not outbox.unrouted().exists():
                    return
                routed.append(count)
        except Exception as exc:  # collected so that the main thread can report it
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=router) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert sum(routed) == len(events)  # no event was routed by two routers
    assert Delivery.objects.count() == 2 * len(events)
    assert not outbox.unrouted().exists()


def _event(click_id):
    """A new conversion's event as the receiver records it: unrouted."""
    network = Network.objects.get_or_create(name="Acme Network")[0]
    conversion = Conversion.objects.create(network=network, click_id=click_id, dedupe_id="t1", status="pending")
    return ConversionEvent.objects.create(conversion=conversion, kind=EventKind.CREATED, to_status="pending")
