"""The drainer: batches locked fairly across partners within their limits, in order per conversion, sent
concurrently, recorded in bulk, and never recorded over another worker's lease."""

import re
import threading
import time
from datetime import timedelta

import pytest
import responses
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from partners import delivery as deliveries
from partners import drainer, outbox
from partners.models import Breaker, Delivery, DeliveryAttempt, DestinationHealth, Partner, State

pytestmark = pytest.mark.django_db


@pytest.fixture
def held(monkeypatch):
    """Events are routed at once (a unit test never commits, so no worker would), the drainer is not woken: each
    test drains when it means to."""
    monkeypatch.setattr("partners.forwarding.wake_drainer", outbox.route)


def make_partner(name, url="https://p.example/pb?c={click_id}", **fields):
    return Partner.objects.create(name=name, slug=name.lower(), postback_url=url, **fields)


def post(client, network, n, prefix="c", **params):
    for i in range(n):
        client.get(f"/postback/{network.key}/", {"click_id": f"{prefix}{i}", "transaction_id": f"t{i}", **params})


def locked_partners(locked):
    return sorted(delivery.destination.name for delivery in locked)


def test_a_batch_serves_every_partner_in_turn_within_its_concurrency(client, network, held, settings):
    settings.DELIVERY_PARTNER_CONCURRENCY = 2
    a, _b, _c = make_partner("A"), make_partner("B"), make_partner("C", max_concurrency=1)
    post(client, network, 10)
    Delivery.objects.filter(destination=a).update(next_attempt_at=timezone.now() - timedelta(hours=1))  # A's backlog

    locked = drainer.lock_batch(room=10, pace=drainer.Pace()).deliveries

    assert locked_partners(locked) == ["A", "A", "B", "B", "C"]
    assert {d.state for d in locked} == {State.SENDING}


def test_the_oldest_due_deliveries_go_first_whatever_their_state(client, network, held):
    make_partner("A")
    post(client, network, 4)
    pending, retrying, expired, _newest = Delivery.objects.order_by("id")
    hour_ago = timezone.now() - timedelta(hours=1)
    Delivery.objects.filter(pk=retrying.pk).update(state=State.RETRYING, next_attempt_at=hour_ago)
    Delivery.objects.filter(pk=expired.pk).update(
        state=State.SENDING, next_attempt_at=hour_ago - timedelta(minutes=1), locked_until=hour_ago
    )
    Delivery.objects.filter(pk=pending.pk).update(next_attempt_at=hour_ago + timedelta(minutes=1))

    locked = drainer.lock_batch(room=3, pace=drainer.Pace()).deliveries

    assert [d.pk for d in locked] == [expired.pk, retrying.pk, pending.pk]


def test_a_partners_backlog_does_not_starve_the_others(client, network, held, settings):
    settings.DELIVERY_PARTNER_CONCURRENCY = 2
    a, _b, _c = make_partner("A"), make_partner("B"), make_partner("C")
    post(client, network, 10)
    Delivery.objects.filter(destination=a).update(next_attempt_at=timezone.now() - timedelta(hours=1))

    first = drainer.lock_batch(room=2, pace=drainer.Pace()).deliveries
    second = drainer.lock_batch(room=2, pace=drainer.Pace()).deliveries

    assert (locked_partners(first), locked_partners(second)) == (["A", "A"], ["B", "C"])


def test_a_partner_at_its_concurrency_in_other_workers_gets_nothing_more(client, network, held, settings):
    settings.DELIVERY_PARTNER_CONCURRENCY = 2
    make_partner("A")
    post(client, network, 4)
    other_worker = list(Delivery.objects.order_by("id").values_list("pk", flat=True)[:2])
    for pk in other_worker:
        assert deliveries.lock(pk) is not None

    locked = drainer.lock_batch(room=10, pace=drainer.Pace()).deliveries

    assert locked == []


def test_a_later_event_waits_until_the_earlier_one_to_the_same_partner_is_final(client, network, held):
    partner = make_partner("A")
    url = f"/postback/{network.key}/"
    client.get(url, {"click_id": "c1", "transaction_id": "t1", "status": "pending"})
    client.get(url, {"click_id": "c1", "transaction_id": "t1", "status": "approved"})
    pending, approved = Delivery.objects.filter(destination=partner).order_by("event_id")
    Delivery.objects.filter(pk=pending.pk).update(state=State.RETRYING, next_attempt_at=timezone.now() + timedelta(1))

    assert drainer.lock_batch(room=10, pace=drainer.Pace())[0] == []

    Delivery.objects.filter(pk=pending.pk).update(state=State.FAILED)
    assert [d.pk for d in drainer.lock_batch(room=10, pace=drainer.Pace())[0]] == [approved.pk]


def test_a_partners_rate_holds_back_what_it_cannot_send_yet(client, network, held):
    make_partner("A", max_per_second=2)
    post(client, network, 5)
    pace = drainer.Pace()

    batch = drainer.lock_batch(room=10, pace=pace)

    assert (len(batch.deliveries), batch.held_back) == (2, True)


@responses.activate
def test_a_result_is_not_recorded_over_a_lease_another_worker_took_over(client, network, held):
    responses.get("https://p.example/pb")
    make_partner("A")
    post(client, network, 1)
    pk = Delivery.objects.get().pk
    deliveries.lock(pk)
    prepared = deliveries.prepare_all(list(Delivery.objects.filter(pk=pk).select_related("event__conversion")))
    Delivery.objects.filter(pk=pk).update(lease="another-workers-lease")  # our lock ran out; it was taken over

    recorded = deliveries.record_all([(prepared[0], deliveries.transport.send(prepared[0].request))])

    assert recorded == []
    assert not DeliveryAttempt.objects.exists()
    assert Delivery.objects.get().state == State.SENDING


def statements(queries):
    """The first word of each statement run, without the transaction's own (savepoints, BEGIN, COMMIT); a statement
    run for many rows at once (executemany) counts once."""
    sqls = [re.sub(r"^\d+ times: ", "", query["sql"]) for query in queries.captured_queries]
    words = [sql.lstrip("(").split()[0].upper() for sql in sqls]
    return [word for word in words if word not in ("SAVEPOINT", "RELEASE", "BEGIN", "COMMIT")]


@responses.activate
@pytest.mark.parametrize("size", [2, 20])
def test_a_round_locks_and_records_in_the_same_statements_whatever_its_size(client, network, held, settings, size):
    # given a healthy partner with `size` deliveries due
    settings.DELIVERY_PARTNER_CONCURRENCY = 20
    responses.get("https://p.example/pb")
    make_partner("A")
    post(client, network, size)

    # when a round locks them (PostgreSQL: the lockers' advisory lock; the copy's token, in flight, health,
    # candidates, the lock, the locked rows) and renders them from the terms it locked them with
    drainer.sending_terms()
    with CaptureQueriesContext(connection) as locking:
        batch = drainer.lock_batch(room=size, pace=drainer.Pace())
        prepared = deliveries.prepare_all(batch.deliveries, terms=batch.terms)
    pairs = [(p, deliveries.transport.send(p.request)) for p in prepared]
    # and records them: the states' conditional UPDATE ... RETURNING, the attempts' INSERT, no health write
    with CaptureQueriesContext(connection) as recording:
        deliveries.record_all(pairs, unwell=batch.unwell)

    # then
    assert len(batch.deliveries) == size
    # (the candidates are one UNION ALL of the parts of due())
    turn = ["SELECT"] if connection.vendor == "postgresql" else []
    assert statements(locking) == [*turn, "SELECT", "SELECT", "SELECT", "SELECT", "UPDATE", "SELECT"]
    assert statements(recording) == ["UPDATE", "INSERT"]
    assert Delivery.objects.filter(state=State.SUCCEEDED).count() == DeliveryAttempt.objects.count() == size
    assert not DestinationHealth.objects.exists()


@responses.activate
def test_recording_writes_the_health_of_a_partner_that_was_failing_when_the_batch_was_locked(client, network, held):
    responses.get("https://p.example/pb")
    partner = make_partner("A")
    post(client, network, 2)
    Partner.health_writes.filter(pk=partner.pk).update(failing_since=timezone.now())
    DestinationHealth.objects.create(destination=partner, consecutive_failures=2)

    batch = drainer.lock_batch(room=2, pace=drainer.Pace())
    pairs = [(p, deliveries.transport.send(p.request)) for p in deliveries.prepare_all(batch.deliveries)]
    deliveries.record_all(pairs, unwell=batch.unwell)

    assert batch.unwell == {partner.pk}
    assert Partner.objects.get().failing_since is None
    assert DestinationHealth.objects.get().consecutive_failures == 0


# The slow partner holds a quarter or half of the drainer's slots: the free ones are refilled all the same.
@pytest.mark.parametrize("slow_concurrency", [2, 4])
def test_the_drainer_sends_a_slow_partner_no_more_than_its_concurrency_while_the_others_finish(
    client, network, held, settings, sink, monkeypatch, slow_concurrency
):
    settings.OUTBOUND_ALLOW_LOOPBACK = True
    make_partner("Slow", url=sink.url("/slow?c={click_id}"), max_concurrency=slow_concurrency)
    make_partner("Fast", url=sink.url("/fast?c={click_id}"))
    post(client, network, 6)
    real_send, lock = deliveries.transport.send, threading.Lock()
    in_flight, most, finished = [0], [0], {"slow": [], "fast": []}

    def send(request):
        slow = "/slow" in request.url
        with lock:
            in_flight[0] += slow
            most[0] = max(most[0], in_flight[0])
        try:
            if slow:
                time.sleep(0.5)
            result = real_send(request)
        finally:
            with lock:
                in_flight[0] -= slow
                finished["slow" if slow else "fast"].append(time.monotonic())
        return result

    monkeypatch.setattr("partners.transport.send", send)

    sent, _retry_in = drainer.drain(budget=30, concurrency=8)

    assert sent == 12
    assert Delivery.objects.filter(state=State.SUCCEEDED).count() == 12
    assert most[0] == slow_concurrency
    assert max(finished["fast"]) < sorted(finished["slow"])[2]  # the fast ones did not wait for the slow ones
    assert sorted(request.path.split("?")[0] for request in sink.received) == ["/fast"] * 6 + ["/slow"] * 6


@responses.activate
def test_a_partner_failing_in_a_row_trips_its_breaker_and_its_deliveries_pause(client, network, held, settings):
    settings.DELIVERY_BREAKER_FAILURES = 3
    settings.DELIVERY_RETRY_SCHEDULE = [0, 0, 0, 0, 0, 0, 0, 0]
    responses.get("https://p.example/pb", status=503)
    make_partner("Down")
    post(client, network, 2)

    drainer.drain(budget=5, concurrency=1)

    health = DestinationHealth.objects.get()
    assert (health.breaker, health.consecutive_failures) == (Breaker.OPEN, 3)
    assert DeliveryAttempt.objects.count() == 3  # not 16: the others wait for the probe instead of failing
    assert drainer.lock_batch(room=10, pace=drainer.Pace())[0] == []


@responses.activate
def test_one_probe_closes_the_breaker_when_the_partner_is_back(client, network, held, settings):
    responses.get("https://p.example/pb", status=200)
    partner = make_partner("Back")
    post(client, network, 3)
    DestinationHealth.objects.create(
        destination=partner, breaker=Breaker.OPEN, consecutive_failures=5, probe_at=timezone.now(), probe_interval=30
    )

    first = drainer.lock_batch(room=10, pace=drainer.Pace()).deliveries
    assert len(first) == 1  # the probe, alone
    assert DestinationHealth.objects.get().breaker == Breaker.HALF_OPEN
    assert drainer.lock_batch(room=10, pace=drainer.Pace())[0] == []
    prepared = deliveries.prepare_all(first)
    deliveries.record_all([(prepared[0], deliveries.transport.send(prepared[0].request))])

    assert DestinationHealth.objects.get().breaker == Breaker.CLOSED
    assert len(drainer.lock_batch(room=10, pace=drainer.Pace())[0]) == 2


@responses.activate
def test_a_failed_probe_opens_the_breaker_again_for_twice_as_long(client, network, held, settings):
    settings.DELIVERY_BREAKER_PROBE_MAX = 100
    responses.get("https://p.example/pb", status=500)
    partner = make_partner("Still down")
    post(client, network, 1)
    DestinationHealth.objects.create(
        destination=partner, breaker=Breaker.OPEN, consecutive_failures=5, probe_at=timezone.now(), probe_interval=60
    )

    drainer.drain(budget=5, concurrency=2)

    health = DestinationHealth.objects.get()
    assert (health.breaker, health.probe_interval) == (Breaker.OPEN, 100)
    assert health.probe_at > timezone.now() + timedelta(seconds=90)


def test_a_lost_probe_is_given_again_once_its_lock_would_have_run_out(client, network, held):
    partner = make_partner("A")
    post(client, network, 1)
    long_ago = timezone.now() - timedelta(hours=1)
    DestinationHealth.objects.create(
        destination=partner, breaker=Breaker.HALF_OPEN, probe_at=long_ago, probe_interval=30
    )

    assert len(drainer.lock_batch(room=10, pace=drainer.Pace())[0]) == 1


def test_an_open_breaker_shows_in_check_partners_and_the_partner_list(client, admin_client, network, held):
    import json
    from io import StringIO

    from django.core.management import call_command

    partner = make_partner("Down")
    probe_at = timezone.now() + timedelta(minutes=5)
    DestinationHealth.objects.create(
        destination=partner, breaker=Breaker.OPEN, consecutive_failures=7, probe_at=probe_at
    )
    out = StringIO()

    call_command("check_partners", "--json", stdout=out)
    page = admin_client.get("/admin/partners/partner/").content.decode()

    row = json.loads(out.getvalue())[0]
    assert (row["breaker"], row["consecutive_failures"]) == ("open", 7)
    assert "open (paused after consecutive failures): 7 failures in a row, probe at" in page


@responses.activate
def test_a_partner_going_down_and_up_never_reloads_every_process_configuration(client, network, held):
    from receiver.models import ConfigVersion

    responses.get("https://p.example/pb", status=503)
    responses.get("https://p.example/pb", status=200)
    make_partner("Flaky")
    post(client, network, 2)
    token = ConfigVersion.objects.get().token

    drainer.drain(budget=5, concurrency=1)

    assert Partner.objects.get().failing_since is None  # one failed, then one succeeded
    assert list(DeliveryAttempt.objects.order_by("id").values_list("response_status", flat=True)) == [503, 200]
    assert ConfigVersion.objects.get().token == token


def test_a_batch_that_was_all_parked_does_not_end_the_drain_while_more_is_due(client, network, held, settings):
    settings.DELIVERY_PARTNER_CONCURRENCY = 2
    partner = make_partner("Gone")
    post(client, network, 5)
    Partner.objects.filter(pk=partner.pk).update(disabled_at=timezone.now(), disabled_reason="410")

    drainer.drain(budget=5, concurrency=2)

    assert set(Delivery.objects.values_list("state", flat=True)) == {State.PARKED}


@pytest.mark.postgres
def test_a_backlog_the_statistics_have_not_seen_is_read_in_index_order_up_to_the_limit(client, network, held, settings):
    # given statistics that saw only finished deliveries, then a backlog of 150 due ones they know nothing of
    settings.RECEIVER_RATE_LIMIT = ""
    make_partner("A")
    post(client, network, 300, prefix="done")
    Delivery.objects.update(state=State.SUCCEEDED)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE partners_delivery")
    post(client, network, 150)
    with CaptureQueriesContext(connection) as read:
        drainer._candidates(timezone.now(), [], 8)
    candidates = read.captured_queries[-1]["sql"]

    # when the lock's transaction plans the candidates' read, as lock_batch() has it
    with connection.cursor() as cursor:
        cursor.execute(drainer.TAKE_TURN_SQL, [drainer.LOCKERS])
        cursor.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {candidates}")
        plan = cursor.fetchone()[0][0]["Plan"]

    # then the pending part stops at its LIMIT in delivery_due's order: not every due delivery read, checked, sorted
    scans = [node for node in walk(plan) if node.get("Relation Name") == "partners_delivery" and "Index Cond" in node]
    due_scans = [node for node in scans if "next_attempt_at" in node["Index Cond"]]
    assert due_scans, plan
    assert all(node["Node Type"] == "Index Scan" for node in due_scans), [node["Node Type"] for node in due_scans]
    assert max(node["Actual Rows"] for node in due_scans) <= 9
    # and a new conversion's delivery waits for no earlier one: the per-conversion order check never runs for it
    assert not [node for node in walk(plan) if "Anti" in node.get("Join Type", "")], plan
    checks = [node for sub in walk(plan) if sub.get("Parent Relationship") == "SubPlan" for node in walk(sub)]
    assert checks, plan
    assert all(node["Actual Loops"] == 0 for node in checks), plan


def walk(node):
    yield node
    for child in node.get("Plans", []):
        yield from walk(child)
