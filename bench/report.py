"""Prints a bench/results/*.json as a table with each scenario's ratio to its ceiling and the
targets of the benchmark issue. Usage: python3 bench/report.py RESULT.json"""
import json
import sys

r = json.load(open(sys.argv[1]))
c, s = r["ceilings"], r["scenarios"]
ceiling_of = {"transport": "http", "quiz_get": "sql", "quiz_list": "sql", "mixed": "sql",
              "quiz_get_with_login": "sql", "users_me": "transport", "tenant_stats": "transport",
              "quiz_create": "quiz_get", "attempt_submit": "quiz_get", "login": "transport"}
rows = [("http", c["http"], None), ("transport", c["transport"], "http"), ("sql", c["sql"], None)]
rows += [(k, v, ceiling_of.get(k)) for k, v in s.items()]
both = {**c, **s}
print(f"{'scenario':<20} {'req/s':>10} {'p50 ms':>8} {'p99 ms':>8}  ratio")
for name, v, base in rows:
    ratio = f"{v['rps'] / both[base]['rps']:.0%} of {base}" if base and both[base]['rps'] else ""
    print(f"{name:<20} {v['rps']:>10.0f} {v['p50_ms']:>8.2f} {v['p99_ms']:>8.2f}  {ratio}")
print(f"memory: gateway {r['memory']['gateway_rss_mib']} MiB, workers "
      f"{r['memory']['worker_rss_mib']} / {r['memory'].get('worker1_rss_mib', '?')} MiB")

def check(label, ok):
    print(f"  [{'met' if ok else 'NOT met'}] {label}")

print("targets:")
check(f"quiz_get >= 60% of sql ({s['quiz_get']['rps'] / c['sql']['rps']:.0%})",
      s["quiz_get"]["rps"] >= 0.6 * c["sql"]["rps"])
check(f"quiz_get p99 <= 1.5x sql p99 ({s['quiz_get']['p99_ms']:.2f} vs {c['sql']['p99_ms']:.2f} ms)",
      s["quiz_get"]["p99_ms"] <= 1.5 * c["sql"]["p99_ms"])
check(f"transport >= 50% of http ({c['transport']['rps'] / c['http']['rps']:.0%})",
      c["transport"]["rps"] >= 0.5 * c["http"]["rps"])
for w in ("quiz_create", "attempt_submit"):
    check(f"{w} >= 40% of quiz_get ({s[w]['rps'] / s['quiz_get']['rps']:.0%})",
          s[w]["rps"] >= 0.4 * s["quiz_get"]["rps"])
check(f"quiz_get p99 with logins <= 2x alone ({s['quiz_get_with_login']['p99_ms']:.2f} vs "
      f"{s['quiz_get']['p99_ms']:.2f} ms)", s["quiz_get_with_login"]["p99_ms"] <= 2 * s["quiz_get"]["p99_ms"])
check("gateway and each worker <= 64 MiB resident",
      max(r["memory"]["gateway_rss_mib"], r["memory"]["worker_rss_mib"],
          r["memory"].get("worker1_rss_mib", 0)) <= 64)
