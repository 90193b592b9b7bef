#!/usr/bin/python3
"""The deployment files stay true to the code.

deploy/k8s/quiz.yaml: every container has liveness and readiness probes on a port it declares,
resource requests and limits, and a restrictive securityContext (non-root pod, read-only root
filesystem, no privilege escalation, no capabilities); every workload's pods are annotated for
Prometheus and covered by a PodDisruptionBudget. In the manifest and the systemd units, every
--option given to a daemon is one its --help lists.
Usage: deploy_check.py BIN_DIR   (prints [PASS]/[FAIL] lines, exits non-zero on a failure)
"""
import glob
import re
import subprocess
import sys

import yaml

problems = []


def check(ok, what):
    if not ok:
        problems.append(what)


def options_of(binary):
    out = subprocess.run([binary, "--help"], capture_output=True, text=True).stdout
    return set(re.findall(r"--[a-z][a-z-]+", out))


def check_options(text, where, known):
    for daemon, args in re.findall(r"(quiz-(?:gateway|worker))\b([^'\]\n]*)", text):
        for opt in re.findall(r"(?<![\w-])--[a-z][a-z-]+", args):
            check(opt in known[daemon], f"{where}: {daemon} has no option {opt}")


def main():
    bin_dir = sys.argv[1]
    known = {d: options_of(f"{bin_dir}/{d}") for d in ("quiz-gateway", "quiz-worker")}
    docs = [d for d in yaml.safe_load_all(open("deploy/k8s/quiz.yaml")) if d]
    budgets = [d["spec"]["selector"]["matchLabels"] for d in docs if d["kind"] == "PodDisruptionBudget"]
    for d in docs:
        if d["kind"] not in ("Deployment", "StatefulSet"):
            continue
        name = d["metadata"]["name"]
        tpl = d["spec"]["template"]
        ann = tpl["metadata"].get("annotations", {})
        check(ann.get("prometheus.io/scrape") == "true" and ann.get("prometheus.io/port"),
              f"{name}: pods not annotated for Prometheus")
        check(d["spec"]["selector"]["matchLabels"] in budgets, f"{name}: no PodDisruptionBudget")
        pod = tpl["spec"].get("securityContext", {})
        check(pod.get("runAsNonRoot") is True and pod.get("runAsUser", 0) != 0,
              f"{name}: pods may run as root")
        for c in tpl["spec"].get("initContainers", []) + tpl["spec"]["containers"]:
            where = f"{name}/{c['name']}"
            sc = c.get("securityContext", {})
            check(sc.get("readOnlyRootFilesystem") is True, f"{where}: root filesystem writable")
            check(sc.get("allowPrivilegeEscalation") is False, f"{where}: privilege escalation allowed")
            check("ALL" in sc.get("capabilities", {}).get("drop", []), f"{where}: capabilities kept")
            res = c.get("resources", {})
            check(res.get("requests") and res.get("limits", {}).get("memory"),
                  f"{where}: no resource requests and memory limit")
            check_options(" ".join(c.get("command", [])), where, known)
            if c in tpl["spec"].get("initContainers", []):
                continue
            ports = {p["containerPort"] for p in c.get("ports", [])}
            for probe in ("livenessProbe", "readinessProbe"):
                p = c.get(probe, {}).get("httpGet")
                check(p and p["port"] in ports, f"{where}: no {probe} on a declared port")
    for unit in glob.glob("deploy/*.service"):
        text = open(unit).read()
        for line in text.splitlines():
            if line.startswith(("ExecStart=", "ExecStartPre=", "ExecReload=")):
                check_options(line, unit, known)
    for p in problems:
        print(f"[FAIL] deploy: {p}")
    if problems:
        sys.exit(1)
    print("[PASS] deploy: the Kubernetes manifest and units match the daemons' options, with probes,"
          " limits, disruption budgets and a restricted securityContext")


if __name__ == "__main__":
    main()
