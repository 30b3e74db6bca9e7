"""The transport's cost per request: partners.transport.send() against a plain requests.Session, both sequential, in
one process, to the local sink, in interleaved rounds; CPU and wall microseconds per request and their ratio.

    .venv/bin/python bench/transport.py [--requests N] [--rounds N]

No database: the transport needs only the project's settings (loopback allowed, as the other benchmarks do).
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, print_table
from sink import sink


def per_request(send, count):
    """(wall µs, CPU µs) per request of `count` sends after a warm-up of a tenth of them."""
    for n in range(count // 10):
        send(n)
    wall, cpu = time.perf_counter(), time.process_time()
    for n in range(count):
        send(n)
    return (time.perf_counter() - wall) / count * 1e6, (time.process_time() - cpu) / count * 1e6


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000, help="requests per target per round (default 3000)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds; medians are shown (default 3)")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        measured = measure(args, Path(tmp))
    baseline = statistics.median(cpu for _wall, cpu in measured["requests.Session().get()"])
    rows = []
    for name, runs in measured.items():
        cpu = statistics.median(cpu for _wall, cpu in runs)
        wall = statistics.median(wall for wall, _cpu in runs)
        rows.append({"target": name, "wall": round(wall), "cpu": round(cpu), "ratio": round(cpu / baseline, 3)})
    columns = [("target", "target"), ("wall µs", "wall"), ("CPU µs", "cpu"), ("CPU / Session", "ratio")]
    print(f"{args.rounds} rounds of {args.requests} sequential requests per target; medians")
    print_table(rows, columns)


def measure(args, tmp):
    """{target: [(wall µs, CPU µs) per round]}, the project's settings loaded with `tmp` as its VAR_DIR."""
    sys.path.insert(0, str(ROOT))
    os.environ.update(
        DJANGO_SETTINGS_MODULE="postbacks_project.settings", OUTBOUND_ALLOW_LOOPBACK="true", VAR_DIR=str(tmp)
    )
    import django

    django.setup()
    import requests

    from partners import transport
    from partners.outbound import OutboundRequest

    with sink(tmp / "sink.log") as port:
        url = f"http://127.0.0.1:{port}/pb?click=transport-%d&amount=1.00"
        plain = requests.Session()
        targets = {
            "requests.Session().get()": lambda n: plain.get(url % n).content,
            "partners.transport.send()": lambda n: transport.send(OutboundRequest(method="GET", url=url % n)),
        }
        measured = {name: [] for name in targets}
        for _round in range(args.rounds):
            for name, send in targets.items():
                measured[name].append(per_request(send, args.requests))
    return measured


if __name__ == "__main__":
    main()
