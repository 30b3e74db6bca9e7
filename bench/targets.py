"""The benchmarks' targets against what a run measured: one table at the top of results.md."""

RECEIVER_PER_INSERT = 0.7
P99_PER_INSERT = 2.0
FORWARDING_PER_SESSION = 0.7  # of a sequential requests.Session loop
FORWARDING_PER_POOL = 0.5  # of a thread-pool Session loop with the drainer's concurrency
RSS_GROWTH_PCT = 10.0


def rows(reports):
    """(target, measured, met) rows from the benchmarks' JSON reports; a missing report adds no row."""
    found = []
    receiver = reports.get("receiver.json")
    for result in receiver["results"] if receiver else []:
        if "skipped" in result:
            continue
        for phase in result["phases"]:
            where = f"{result['database']}, {phase['stored_before']:,} stored"
            rate = {row["target"]: row for row in phase["targets"]}
            ratio = phase["ratios"]["receiver_per_insert"]
            found.append((f"receiver ≥ {RECEIVER_PER_INSERT} of the one-insert view ({where})", ratio,
                          ratio is not None and ratio >= RECEIVER_PER_INSERT))  # fmt: skip
            p99, floor = rate["receiver"]["p99_ms"], rate["insert"]["p99_ms"]
            found.append((f"receiver p99 < {P99_PER_INSERT:g}x the one-insert view's ({where})",
                          f"{p99} / {floor} ms = {p99 / floor:.2f}x", p99 < P99_PER_INSERT * floor))  # fmt: skip
        if "preloaded_per_empty" in result:
            flat = result["preloaded_per_empty"]
            found.append((f"receiver flat with 1,000,000 stored ({result['database']}, with / empty ≥ 0.9)", flat,
                          flat >= 0.9))  # fmt: skip
    forwarding = reports.get("forwarding.json")
    for result in forwarding["results"] if forwarding else []:
        if "skipped" in result:
            continue
        workers = [row for row in result["targets"] if row["target"].startswith("worker") and row.get("ratio")]
        if workers:
            best = max(workers, key=lambda row: row["ratio"])
            found.append((f"one worker ≥ {FORWARDING_PER_SESSION} of a sequential Session loop ({result['database']})",
                          f"{best['ratio']} ({best['target']})", best["ratio"] >= FORWARDING_PER_SESSION))  # fmt: skip
            pool = best.get("ratio_pool")
            if pool is not None:
                found.append((f"one worker ≥ {FORWARDING_PER_POOL} of a thread-pool Session loop of the drainer's "
                              f"concurrency ({result['database']})", f"{pool} ({best['target']})",
                              pool >= FORWARDING_PER_POOL))  # fmt: skip
        for row in result["targets"]:
            if "memory" in row and row["memory"]["growth_pct"] is not None:
                growth = row["memory"]["growth_pct"]
                found.append((f"worker RSS flat within {RSS_GROWTH_PCT:g} % ({result['database']})",
                              f"{growth:+} %", row["memory"]["flat"]))  # fmt: skip
    scale = reports.get("scale_out.json")
    if scale and "skipped" not in scale:
        checks = [scale["phase1"]["check"], *scale["drains"]]
        found.append(("two nodes: every conversion delivered exactly once",
                      f"{scale['phase1']['postbacks']['accepted']} of {scale['phase1']['postbacks']['sent']} accepted",
                      all(check["exactly_once"] for check in checks)))  # fmt: skip
        beat = scale["phase1"]["beat"]
        found.append(("two nodes: the beat schedule runs once", f"{beat['ran']} runs of {beat['sent']} sends",
                      beat["once"]))  # fmt: skip
        found.append(("two workers against one: measured and reported", scale["two_per_one"], True))
    backlog = reports.get("backlog.json")
    for result in backlog["results"] if backlog else []:
        if "skipped" in result:
            continue
        where, slow, dead = result["database"], result["slow"], result["dead"]
        done = f"{result['healthy_seconds']} s" if result["healthy_done"] else "not within the timeout"
        found.append((f"backlog: the healthy partners' deliveries all succeed, once each ({where})",
                      f"{result['per_partner'] * result['healthy_partners']:,} in {done}",
                      result["healthy_done"] and result["healthy_sent_once"]))  # fmt: skip
        found.append((f"backlog: the slow partner never above its concurrency ({where})",
                      f"{slow['most_in_flight']} / {slow['limit']}", slow["within_limit"]))  # fmt: skip
        found.append((f"backlog: the dead partner's breaker opens ({where})",
                      f"{dead['breaker']} after {dead['requests']} requests",
                      dead["breaker"] in ("open", "half_open")))  # fmt: skip
    return found


def markdown(reports):
    found = rows(reports)
    if not found:
        return []
    lines = ["## Targets", "", "| target | measured | met |", "|---|---|---|"]
    lines += [f"| {target} | {measured} | {'yes' if met else '**no**'} |" for target, measured, met in found]
    return [
        *lines,
        "",
        'Why the ratios that are not met stay below their targets: bench/README.md, "Where the time goes".',
        "",
    ]
