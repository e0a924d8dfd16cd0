#!/usr/bin/env python3
"""Turns a harness run (benches/run) into report.md and PNG plots beside its raw.jsonl.

    python3 benches/report.py benches/results

Every number comes from raw.jsonl and meta.json; "added" is a system's figure less the
provider's own (direct) in the same run. Plots need matplotlib (the harness installs it).
"""

import json
import sys
from collections import defaultdict
from pathlib import Path

SYSTEMS = ["direct", "nginx", "pingora", "tollgate", "litellm"]
LABEL = {
    "direct": "provider direct",
    "nginx": "nginx",
    "pingora": "bare Pingora",
    "tollgate": "tollgate",
    "litellm": "LiteLLM",
    "tollgate-redis": "tollgate, limits in Redis",
}


def load(out):
    rows = [json.loads(line) for line in (out / "raw.jsonl").read_text().splitlines() if line.strip()]
    by = defaultdict(list)
    for r in rows:
        by[r["scenario"]].append(r)
    return json.loads((out / "meta.json").read_text()), by


def ms(us):
    return "–" if us is None else f"{us / 1000:.3f}"


def pick(rows, system, **params):
    for r in rows:
        if r["system"] == system and all(r["params"].get(k) == v for k, v in params.items()):
            return r["result"]
    return None


def lat(result, key="latency_us", q="p99"):
    if not result:
        return None
    return result.get(key, {}).get(q)


def table(head, rows):
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def grid(rows, param, head, cell, systems=SYSTEMS):
    """A table of one row per system and one column per value of `param`."""
    values = sorted({r["params"][param] for r in rows})
    body = []
    for s in systems:
        if not any(r["system"] == s for r in rows):
            continue
        results = [pick(rows, s, **{param: v}) for v in values]
        body.append([LABEL[s]] + [cell(j) if j else "–" for j in results])
    return table(["system"] + [head(v) for v in values], body)


def closed(j, p50=True):
    """A wrk point: requests/s, latency, and the errors if any."""
    text = f"{j['rps']:,.0f} · " + (f"{ms(j['latency_us']['p50'])} / " if p50 else "") + ms(j["latency_us"]["p99"])
    errors = j["non_2xx"] + j["socket_errors"]
    return text + (f" · {errors} errors" if errors else "")


def streamed(j):
    """A loadgen stream point: TTFT p50 / p99, gap p99, and the failures if any."""
    text = f"{ms(lat(j, 'ttft_us', 'p50'))} / {ms(lat(j, 'ttft_us'))} · gap {ms(lat(j, 'gap_us'))}"
    failed = j["failed"] + j["io_errors"]
    return text + (f" · {failed} failed" if failed else "")


def plots(out, by):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    made = []

    def chart(name, rows, param, xlabel, xbase, title, panels):
        """One PNG of `rows`: per panel (y label, value of a result, log y), a line per system."""
        if not rows:
            return
        fig, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels) + (2.5 if len(panels) == 1 else 0), 4))
        axes = axes if len(panels) > 1 else [axes]
        for s in SYSTEMS:
            pts = sorted((r["params"][param], r["result"]) for r in rows if r["system"] == s and r["result"])
            # A point without the figure (no event arrived, no request answered) is left out.
            pts = [(x, j) for x, j in pts if all(value(j) is not None for _, value, _ in panels)]
            for ax, (_, value, _) in zip(axes, panels):
                if pts:
                    ax.plot([x for x, _ in pts], [value(j) for _, j in pts], marker="o", label=LABEL[s])
        for ax, (ylabel, _, log_y) in zip(axes, panels):
            ax.set_xscale("log", base=xbase)
            if log_y:
                ax.set_yscale("log")
            ax.set_xlabel(xlabel)
            ax.set_ylabel(ylabel)
            ax.grid(alpha=0.3)
        axes[0].legend()
        fig.suptitle(title)
        fig.tight_layout()
        fig.savefig(out / name, dpi=90)
        made.append(name)

    def in_ms(key):
        return lambda j: None if lat(j, key) is None else lat(j, key) / 1000

    chart("sweep.png", by.get("sweep", []), "conns", "connections (closed loop)", 2,
          "Non-streaming: throughput and p99 latency against concurrency",
          [("requests/s", lambda j: j["rps"], False), ("p99 latency (ms)", in_ms("latency_us"), True)])
    chart("rate.png", by.get("rate", []), "rate", "offered rate (requests/s, open loop)", 10,
          "Open-loop latency against offered rate", [("p99 latency (ms)", in_ms("latency_us"), True)])
    # Log axes: LiteLLM's seconds and the others' milliseconds together.
    chart("stream.png", by.get("stream", []), "conns", "concurrent streams", 2,
          "Streaming (provider: 20 events, 20 ms apart)",
          [("time to first event, p99 (ms)", in_ms("ttft_us"), True),
           ("gap between events, p99 (ms)", in_ms("gap_us"), True)])
    soak = by.get("soak", [])
    if soak:
        fig, ax = plt.subplots(figsize=(8, 3.5))
        pts = soak[0]["result"]["rss_kb"]
        ax.plot([t for t, _ in pts], [kb / 1024 for _, kb in pts], marker=".")
        ax.set_xlabel("seconds")
        ax.set_ylabel("tollgate RSS (MiB)")
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
        ax.set_title("Soak: RSS under steady streaming and plain load")
        fig.tight_layout()
        fig.savefig(out / "soak.png", dpi=90)
        made.append("soak.png")
    return made


def headline(by):
    """The issue's targets, each with what this run measured and whether it is met."""
    rows = []
    sweep = by.get("sweep", [])

    def peak(s):
        vals = [r["result"]["rps"] for r in sweep if r["system"] == s and r["result"]]
        return max(vals) if vals else None

    tg, ng, pg, ll = peak("tollgate"), peak("nginx"), peak("pingora"), peak("litellm")
    if tg and pg:
        rows.append(("throughput ≥ 1.0× bare Pingora (peak over the sweep)", f"{tg / pg:.2f}× ({tg:,.0f} vs {pg:,.0f} req/s)", tg >= pg))
    if tg and ng:
        rows.append(("throughput ≥ 0.9× nginx", f"{tg / ng:.2f}× ({tg:,.0f} vs {ng:,.0f} req/s)", tg >= 0.9 * ng))
    if tg and ll:
        rows.append(("throughput ≥ 20× LiteLLM", f"{tg / ll:.1f}× ({tg:,.0f} vs {ll:,.0f} req/s)", tg >= 20 * ll))
    d1 = lat(pick(sweep, "direct", conns=1))
    t1, n1 = lat(pick(sweep, "tollgate", conns=1)), lat(pick(sweep, "nginx", conns=1))
    if None not in (d1, t1, n1):
        added, nadded = t1 - d1, n1 - d1
        rows.append(("added p99 at concurrency 1 ≤ 0.25 ms and ≤ nginx's", f"{ms(added)} ms (nginx {ms(nadded)} ms)", added <= 250 and added <= nadded))
    stream = by.get("stream", [])
    ds, ts = pick(stream, "direct", conns=256), pick(stream, "tollgate", conns=256)
    if ds and ts and None not in (lat(ts, "ttft_us"), lat(ds, "ttft_us"), lat(ts, "gap_us"), lat(ds, "gap_us")):
        added = lat(ts, "ttft_us") - lat(ds, "ttft_us")
        rows.append(("streaming TTFT added p99 < 0.5 ms at 256 streams", f"{ms(added)} ms", added < 500))
        added = lat(ts, "gap_us") - lat(ds, "gap_us")
        rows.append(("inter-chunk gap added p99 < 0.1 ms at 256 streams", f"{ms(added)} ms", added < 100))
    mem = [r["result"] for r in by.get("memory", []) if r["system"] == "tollgate" and r["result"]]
    if mem:
        peak = max(j["rss_peak_kb"] for j in mem)
        failed = sum(j["failed"] + j["io_errors"] for j in mem)
        note = f" ({failed} streams failed)" if failed else ""
        rows.append(("RSS < 64 MB with 1,000 concurrent streams", f"{peak * 1024 / 1e6:.0f} MB peak{note}", peak * 1024 < 64e6 and not failed))
    soak = by.get("soak", [])
    if soak:
        pts = soak[0]["result"]["rss_kb"]
        settled = [kb for t, kb in pts if t >= 60] or [kb for _, kb in pts]
        growth = (settled[-1] - settled[0]) / 1024
        rows.append(("no RSS growth over the soak (after its first minute)", f"{growth:+.1f} MiB ({settled[0] / 1024:.0f} → {settled[-1] / 1024:.0f} MiB)", growth <= 1.0))
    adm = [r["result"] for r in by.get("redis", []) if r["system"] == "admission" and r["result"]]
    if adm:
        rows.append(("Redis admission p99 < 1 ms", f"{adm[0]['p99_us'] / 1000:.3f} ms", adm[0]["p99_us"] < 1000))
    return table(["target", "measured", "met"], [(a, b, "yes" if c else "**no**") for a, b, c in rows])


def main():
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "benches/results")
    meta, by = load(out)
    made = plots(out, by)
    md = [
        "# tollgate beside nginx, bare Pingora and LiteLLM\n",
        f"Run of commit `{meta['commit']}` on {meta['date']}: {meta['cores']} cores ({meta['cpu']}), "
        f"{meta['point_s']} s a point, a {meta['soak_s']} s soak; nginx {meta['nginx']}, LiteLLM {meta['litellm']}. "
        "Every proxy runs alone on the last core with one worker; the mock provider and the load "
        "generators share the other. *direct* is the load generator straight at the provider; "
        "*added* is a figure less direct's in the same run. Reproduce with `benches/run`.\n",
        "## Targets\n",
        headline(by),
    ]
    sweep = by.get("sweep", [])
    if sweep:
        md.append("## Non-streaming, closed loop (wrk): requests/s, and p50 / p99 ms\n")
        md.append(grid(sweep, "conns", lambda c: f"c={c}", closed))
    rate = by.get("rate", [])
    if rate:
        md.append("## Open loop (64 connections): p99 ms at each offered rate, up to the knee\n")
        md.append("A system's row ends at the first rate where its p99 is over 1 ms above direct's, "
                  "or where it fails requests or falls short of the rate.\n")
        md.append(grid(rate, "rate", lambda x: f"{x:,}/s", lambda j: ms(lat(j))))
    body = by.get("body", [])
    if body:
        md.append("## Large request bodies (16 connections): requests/s and p99 ms\n")
        md.append(grid(body, "kb", lambda k: f"{k} KB", lambda j: closed(j, p50=False)))
    dialect = by.get("dialect", [])
    if dialect:
        md.append("## Dialect conversion, streamed (tollgate, 16 connections, instant 20-word streams)\n")
        md.append("`client>provider`: the client's dialect, then the provider's.\n")
        md.append(table(["pair", "streams/s", "TTFT p50 / p99 ms", "gap p99 ms"], [
            [r["params"]["pair"], f"{r['result']['rps']:,.0f}",
             f"{ms(lat(r['result'], 'ttft_us', 'p50'))} / {ms(lat(r['result'], 'ttft_us'))}", ms(lat(r["result"], "gap_us"))]
            for r in dialect]))
    stream = by.get("stream", [])
    if stream:
        md.append("## Streaming (provider: 20 events, 20 ms apart): TTFT p50 / p99 and gap p99, ms\n")
        md.append(grid(stream, "conns", lambda c: f"{c} streams", streamed))
    cancel = by.get("cancel", [])
    if cancel:
        j = cancel[0]["result"]
        md.append("## Cancellation storm (256 streams, every second one hung up after its first event)\n")
        md.append(f"{j['ok']:,} streams finished, {j['aborted']:,} cut by the client. "
                  f"`tollgate_requests_in_flight` right after: {j['in_flight_after']}; "
                  f"once settled: **{j['in_flight_settled']}**.\n")
    mem = by.get("memory", [])
    if mem:
        md.append("## Memory with 1,000 concurrent streams (RSS, MiB; peak is since the process started)\n")
        md.append(table(["system", "round", "before", "peak", "after (2 s idle)"], [
            [LABEL[r["system"]], r["params"]["round"], f"{r['result']['rss_before_kb'] / 1024:.0f}",
             f"{r['result']['rss_peak_kb'] / 1024:.0f}", f"{r['result']['rss_after_kb'] / 1024:.0f}"] for r in mem]))
    redis = by.get("redis", [])
    if redis:
        md.append("## Limits in process against limits in Redis: requests/s and p99 ms\n")
        rows = [r for r in redis if r["system"] != "admission"]
        md.append(grid(rows, "conns", lambda c: f"c={c}", lambda j: closed(j, p50=False), ("tollgate", "tollgate-redis")))
        adm = [r["result"] for r in redis if r["system"] == "admission" and r["result"]]
        if adm:
            a = adm[0]
            md.append(f"\nOne Redis admission (`benches/redis_admission.rs`, one at a time): p50 {a['p50_us'] / 1000:.3f} ms, "
                      f"p99 {a['p99_us'] / 1000:.3f} ms; {a['per_s']:,} admissions/s from 32 tasks.\n")
    soak = by.get("soak", [])
    if soak:
        j = soak[0]["result"]
        pts = j["rss_kb"]
        md.append(f"## Soak ({soak[0]['params']['seconds']} s: 64 streams, every tenth cut, beside 4 connections of plain requests)\n")
        md.append(f"{j['ok']:,} streams, {j['aborted']:,} cut, plain requests at {j['wrk_rps']} req/s. "
                  f"RSS from {pts[0][1] / 1024:.0f} to {pts[-1][1] / 1024:.0f} MiB (max {max(kb for _, kb in pts) / 1024:.0f}).\n")
    for png in made:
        md.append(f"\n![{png}]({png})\n")
    md.append("\nThe optimisations kept (each with its measured effect) and those tried and not kept, and "
              "where the remaining time and memory go: [benches/README.md](../README.md#optimisations).\n")
    (out / "report.md").write_text("\n".join(md))


if __name__ == "__main__":
    main()
