#!/usr/bin/env python3
"""Holds recorded live traffic against the OpenAPI document, as a validating proxy would.

Every request the integration tests make through tests/helpers/http.c is recorded (method,
path, status, Content-Type) when QUIZ_TEST_TRAFFIC names a file. Each answer of a documented
operation must carry a status the operation lists (or a range such as 4XX, or default), and,
when the document gives that status a body, one of its media types.
Usage: tests/openapi_traffic.py TRAFFIC_FILE proto/openapi.json
"""
import collections
import json
import re
import sys


def templates(doc):
    """(regex, path, path item) for every documented path; literal paths before templated."""
    out = []
    for path, item in doc["paths"].items():
        rx = "^" + re.sub(r"\\{[^}]+\\}", "[^/]+", re.escape(path)) + "$"
        out.append((re.compile(rx), path, item))
    out.sort(key=lambda t: t[1].count("{"))
    return out


def main():
    traffic, spec = sys.argv[1], sys.argv[2]
    doc = json.load(open(spec))
    paths = templates(doc)
    seen, gaps, undocumented = 0, collections.Counter(), 0
    for line in open(traffic, encoding="utf-8", errors="replace"):
        parts = line.rstrip("\n").split(" ")
        if len(parts) < 3 or not parts[2].isdigit() or parts[2] == "0":
            continue  # no answer (connection refused on purpose, a stopped stack)
        method, path, status = parts[0].lower(), parts[1], parts[2]
        ctype = parts[3].split(";")[0].strip() if len(parts) > 3 else ""
        op = None
        for rx, template, item in paths:
            if rx.match(path):
                op, name = item.get(method), f"{method.upper()} {template}"
                break
        if op is None:
            undocumented += 1  # no such operation: the 404/405 of an unknown route
            continue
        seen += 1
        responses = op.get("responses", {})
        listed = responses.get(status) or responses.get(status[0] + "XX") or responses.get("default")
        if listed is None:
            gaps[f"{name} answered {status}, which the document does not list"] += 1
            continue
        types = list(listed.get("content", {}).keys())
        if types and ctype and ctype not in types and status != "304":
            gaps[f"{name} {status} answered {ctype}, the document says {', '.join(types)}"] += 1
    for gap, n in sorted(gaps.items()):
        print(f"openapi: {gap} ({n}x)")
    print(f"openapi: {seen} answers of documented operations checked, {undocumented} to routes"
          f" the document does not have, {len(gaps)} gaps")
    sys.exit(1 if gaps or seen == 0 else 0)


if __name__ == "__main__":
    main()
