"""Prints a bench/results/*.json as a table with each scenario's ratio to its ceiling and the
targets of the benchmark issue. Usage: python3 bench/report.py RESULT.json"""
import json
import sys

r = json.load(open(sys.argv[1]))
c, s = r["ceilings"], r["scenarios"]
ceiling_of = {"transport": "http", "quiz_get": "sql", "quiz_list": "sql", "mixed": "sql",
              "quiz_get_with_login": "sql", "users_me": "transport", "tenant_stats": "transport",
              "quiz_create": "quiz_get", "question_add": "quiz_get", "attempt_submit": "quiz_get", "login": "transport",
              "login_with_quiz_get": "login"}
rows = [(k, c[k], base) for k, base in (("http", None), ("transport", "http"), ("sql", None),
                                        ("sql_json", None), ("sql_point", None)) if k in c]
rows += [(k, v, ceiling_of.get(k)) for k, v in s.items()]
both = {**c, **s}
split = r["settings"].get("tenants_per_shard")
if split:
    print(f"tenants per shard: {' / '.join(map(str, split))}")
print(f"{'scenario':<20} {'req/s':>10} {'p50 ms':>8} {'p99 ms':>8}  {'CPU us/req: db':>14} {'gw':>5} "
      f"{'wk':>5}  {'switches gw':>11} {'wk':>5}  ratio")
def cpu(v, k): return f"{v[k]:.0f}" if k in v else "-"
def sw(v, k): return f"{v[k]:.1f}" if k in v else "-"
for name, v, base in rows:
    ratio = f"{v['rps'] / both[base]['rps']:.0%} of {base}" if base in both and both[base]['rps'] else ""
    print(f"{name:<20} {v['rps']:>10.0f} {v['p50_ms']:>8.2f} {v['p99_ms']:>8.2f}  {cpu(v, 'db_cpu_us'):>14} "
          f"{cpu(v, 'gateway_cpu_us'):>5} {cpu(v, 'worker_cpu_us'):>5}  {sw(v, 'gateway_switches'):>11} "
          f"{sw(v, 'worker_switches'):>5}  {ratio}")
print(f"memory: gateway {r['memory']['gateway_rss_mib']} MiB, workers "
      f"{r['memory']['worker_rss_mib']} / {r['memory'].get('worker1_rss_mib', '?')} MiB")

def check(label, ok):
    print(f"  [{'met' if ok else 'NOT met'}] {label}")

def rps(k): return both[k]["rps"]
def p99(k): return both[k]["p99_ms"]

# Each target, checked when its runs are in the result (BENCH_ONLY may leave some out).
targets = [
    (("quiz_get", "sql"), lambda: (f"quiz_get >= 60% of sql ({rps('quiz_get') / rps('sql'):.0%})",
                                   rps("quiz_get") >= 0.6 * rps("sql"))),
    (("quiz_get", "sql"), lambda: (f"quiz_get p99 <= 1.5x sql p99 ({p99('quiz_get'):.2f} vs {p99('sql'):.2f} ms)",
                                   p99("quiz_get") <= 1.5 * p99("sql"))),
    (("quiz_get", "sql_json"),
     lambda: (f"quiz_get >= 3x sql_json ({rps('quiz_get') / rps('sql_json'):.1f}x)",
              rps("quiz_get") >= 3 * rps("sql_json"))),
    (("quiz_get", "sql_point"),
     lambda: (f"database CPU per quiz_get <= 1.5x a point lookup's ({both['quiz_get']['db_cpu_us']:.0f} vs "
              f"{both['sql_point']['db_cpu_us']:.0f} us)",
              both["quiz_get"]["db_cpu_us"] <= 1.5 * both["sql_point"]["db_cpu_us"])),
    (("transport", "http"), lambda: (f"transport >= 50% of http ({rps('transport') / rps('http'):.0%})",
                                     rps("transport") >= 0.5 * rps("http"))),
] + [
    ((w, "quiz_get"), lambda w=w: (f"{w} >= 40% of quiz_get ({rps(w) / rps('quiz_get'):.0%})",
                                   rps(w) >= 0.4 * rps("quiz_get")))
    for w in ("quiz_create", "attempt_submit")
] + [
    (("quiz_get_with_login", "quiz_get"),
     lambda: (f"quiz_get p99 with logins <= 2x alone ({p99('quiz_get_with_login'):.2f} vs {p99('quiz_get'):.2f} ms)",
              p99("quiz_get_with_login") <= 2 * p99("quiz_get"))),
]
print("targets:")
for needs, t in targets:
    if all(k in both for k in needs):
        check(*t())
check("gateway and each worker <= 64 MiB resident",
      max(r["memory"]["gateway_rss_mib"], r["memory"]["worker_rss_mib"],
          r["memory"].get("worker1_rss_mib", 0)) <= 64)
