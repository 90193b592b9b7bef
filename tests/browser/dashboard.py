#!/usr/bin/python3
"""The operator dashboard (/admin/) and the API reference (/docs/) in a real browser.

Starts headless Chromium (Debian `chromium`) and drives it over the DevTools protocol (Debian
`python3-websocket`), as an operator would: opens /admin/, enters the platform token, searches a
known tenant and finds it, finds a rendered chart and the shards, checks the token is in no URL,
cookie or storage, and saves a screenshot; then opens /docs/, finds every operation of the
OpenAPI document there and runs one with "try it out". Prints one line of figures (page weight,
load time) and exits non-zero naming the first check that failed.
Usage: dashboard.py URL TOKEN TENANT_NAME OUT_DIR
"""
import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

import websocket


def fail(msg):
    print(f"[FAIL] browser: {msg}")
    sys.exit(1)


class Browser:
    def __init__(self):
        exe = shutil.which("chromium") or shutil.which("chromium-browser")
        if not exe:
            fail("chromium is not installed")
        self.profile = tempfile.mkdtemp(prefix="quiz-chromium.")
        args = [exe, "--headless=new", "--disable-gpu", "--no-first-run", "--no-default-browser-check",
                "--disable-extensions", "--disable-dev-shm-usage", "--window-size=1280,1400",
                "--remote-debugging-port=0", f"--user-data-dir={self.profile}", "about:blank"]
        if os.geteuid() == 0:
            args.insert(1, "--no-sandbox")  # Chromium refuses to sandbox as root (CI runs as root)
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        port_file = os.path.join(self.profile, "DevToolsActivePort")
        for _ in range(300):
            if os.path.exists(port_file) and open(port_file).read().count("\n") >= 1:
                break
            time.sleep(0.1)
        else:
            fail("chromium did not open its DevTools port")
        port = open(port_file).read().split("\n")[0]
        targets = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json"))
        page = next(t for t in targets if t["type"] == "page")
        self.ws = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=60,
                                              suppress_origin=True)
        self.next_id = 0
        self.call("Page.enable")
        self.call("Runtime.enable")

    def call(self, method, **params):
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == self.next_id:
                if "error" in msg:
                    fail(f"{method}: {msg['error']}")
                return msg.get("result", {})

    def eval(self, expr):
        r = self.call("Runtime.evaluate", expression=expr, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in r:
            fail(f"script error in {expr[:80]!r}: {r['exceptionDetails'].get('text')}")
        return r["result"].get("value")

    def wait(self, expr, what, timeout=20):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.eval(expr):
                return
            time.sleep(0.1)
        fail(f"{what} (waited {timeout} s)")

    def open(self, url):
        self.call("Page.navigate", url=url)
        self.wait("document.readyState === 'complete' && performance.getEntriesByType('navigation')"
                  ".length > 0 && performance.getEntriesByType('navigation')[0].loadEventEnd > 0",
                  f"{url} did not load")
        # What the page cost: every byte it fetched, and the time to its load event.
        return self.eval("""(() => {
            const nav = performance.getEntriesByType('navigation')[0];
            const res = performance.getEntriesByType('resource');
            return {load_ms: Math.round(nav.loadEventEnd),
                    bytes: nav.transferSize + res.reduce((n, r) => n + r.transferSize, 0),
                    requests: 1 + res.length};
        })()""")

    def screenshot(self, path):
        data = self.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))

    def close(self):
        try:
            self.ws.close()
        finally:
            self.proc.terminate()
            self.proc.wait(10)
            shutil.rmtree(self.profile, ignore_errors=True)


def main():
    url, token, tenant, out = sys.argv[1:5]
    os.makedirs(out, exist_ok=True)
    spec = json.load(urllib.request.urlopen(f"{url}/api/openapi.json"))
    operations = {(m.upper(), p) for p, item in spec["paths"].items() for m in item
                  if m in ("get", "post", "put", "patch", "delete")}
    b = Browser()
    try:
        admin = b.open(f"{url}/admin/")
        b.eval(f"document.getElementById('token').value = {json.dumps(token)};"
               "document.getElementById('login').requestSubmit(); true")
        b.wait("!document.getElementById('main').hidden || "
               "document.getElementById('login-error').textContent !== ''", "the token form did nothing")
        err = b.eval("document.getElementById('login-error').textContent")
        if err:
            fail(f"the dashboard refused the platform token: {err}")
        b.eval(f"document.getElementById('q').value = {json.dumps(tenant)};"
               "document.getElementById('search').requestSubmit(); true")
        # The unfiltered first page may hold it too: wait for the search's own answer, one row.
        b.wait(f"(() => {{ const rows = document.querySelectorAll('#tenants tbody tr');"
               f" return rows.length === 1 && rows[0].cells[0].textContent === {json.dumps(tenant)}; }})()",
               f"the search for {tenant!r} did not list that tenant alone")
        b.wait("document.querySelectorAll('#shards tbody td.up').length >= 2", "no shard shown up")
        b.wait("[...document.querySelectorAll('#chart-rps polyline')].some(p => "
               "p.getAttribute('points').split(' ').length >= 2)", "no chart rendered", timeout=30)
        leaks = b.eval(f"""(() => {{
            const t = {json.dumps(token)};
            return [location.href, document.cookie, JSON.stringify(localStorage),
                    JSON.stringify(sessionStorage)].filter(s => s.includes(t)).length;
        }})()""")
        if leaks:
            fail("the platform token is in a URL, a cookie or storage")
        b.screenshot(os.path.join(out, "dashboard.png"))

        docs = b.open(f"{url}/docs/")
        b.wait("document.querySelectorAll('.opblock').length > 0", "Swagger UI rendered no operation")
        shown = b.eval("[...document.querySelectorAll('.opblock')].map(o => "
                       "[o.querySelector('.opblock-summary-method').textContent, "
                       "o.querySelector('.opblock-summary-path').getAttribute('data-path')])")
        missing = operations - {(m, p) for m, p in shown}
        if missing:
            fail(f"/docs lacks {len(missing)} operations, e.g. {sorted(missing)[:3]}")
        # "Try it out" on GET /healthz, answered by this same gateway.
        b.eval("""(() => {
            const op = [...document.querySelectorAll('.opblock')].find(o =>
                o.querySelector('.opblock-summary-path').getAttribute('data-path') === '/healthz');
            (op.querySelector('.opblock-summary-control') || op.querySelector('.opblock-summary')).click();
            return true;
        })()""")
        b.wait("!!document.querySelector('.opblock.is-open .try-out__btn')", "no 'Try it out' button")
        b.eval("document.querySelector('.opblock.is-open .try-out__btn').click(); true")
        b.wait("!!document.querySelector('.opblock.is-open .execute')", "no 'Execute' button")
        b.eval("document.querySelector('.opblock.is-open .execute').click(); true")
        b.wait("[...document.querySelectorAll('.opblock.is-open .live-responses-table .response-col_status')]"
               ".some(td => td.textContent.trim().startsWith('200'))", "'try it out' got no 200")
        b.screenshot(os.path.join(out, "docs.png"))
    finally:
        b.close()
    print("browser: " + json.dumps({"dashboard": admin, "docs": docs, "operations": len(operations)}))
    print(f"[PASS] browser: dashboard found tenant {tenant!r} and a chart; /docs lists all "
          f"{len(operations)} operations and 'try it out' works (screenshots in {out})")


if __name__ == "__main__":
    main()
