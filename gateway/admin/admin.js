// The operator dashboard: every call is the ordinary platform API with the token typed into
// the page, kept in this closure only (never in a URL, a cookie or storage).
'use strict';
(() => {
  let token = null;
  let pages = [null]; // the cursor of each tenants page seen; pages[at] is the current one
  let at = 0;
  let timer = null;
  let interval = 10; // seconds between the gateway's samples, and between refreshes
  const $ = (id) => document.getElementById(id);
  const COLORS = ['#1a73e8', '#e37400', '#188038', '#a142f4', '#d01884', '#12b5cb', '#5f6368', '#b06000'];

  async function api(path) {
    const r = await fetch(path, { headers: { Authorization: 'Bearer ' + token }, cache: 'no-store' });
    if (r.status === 401) throw new Error('the platform token was refused');
    if (!r.ok) throw new Error(path + ': HTTP ' + r.status);
    return r.json();
  }

  function fill(tbody, items, row, empty) {
    tbody.replaceChildren();
    for (const it of items) {
      const tr = document.createElement('tr');
      for (const [text, cls] of row(it)) {
        const td = document.createElement('td');
        td.textContent = text == null ? '–' : String(text);
        if (cls) td.className = cls;
        tr.appendChild(td);
      }
      tbody.appendChild(tr);
    }
    if (!items.length) {
      const tr = document.createElement('tr');
      const td = document.createElement('td');
      td.colSpan = tbody.parentElement.querySelectorAll('th').length;
      td.textContent = empty;
      tr.appendChild(td);
      tbody.appendChild(tr);
    }
  }

  function size(n) {
    if (n == null) return null;
    const units = ['B', 'kB', 'MB', 'GB', 'TB'];
    let i = 0;
    while (n >= 1000 && i < units.length - 1) { n /= 1000; i++; }
    return (i ? n.toFixed(1) : String(n)) + ' ' + units[i];
  }

  const when = (t) => (t ? new Date(t).toISOString().replace('T', ' ').slice(0, 19) : null);
  const svgEl = (name, attrs) => {
    const e = document.createElementNS('http://www.w3.org/2000/svg', name);
    for (const k in attrs) e.setAttribute(k, attrs[k]);
    return e;
  };

  // A line chart of series [{values, color}] over the samples' times.
  function chart(svg, times, series) {
    svg.replaceChildren();
    const W = 600, H = 170, L = 44, B = 20, T = 8;
    let max = 0;
    for (const s of series) for (const v of s.values) if (v != null && v > max) max = v;
    max = max > 0 ? max * 1.1 : 1;
    svg.appendChild(svgEl('line', { class: 'axis', x1: L, y1: H - B, x2: W, y2: H - B }));
    svg.appendChild(svgEl('line', { class: 'axis', x1: L, y1: T, x2: L, y2: H - B }));
    const top = svgEl('text', { x: 2, y: T + 10 });
    top.textContent = max >= 10 ? max.toFixed(0) : max.toFixed(2);
    svg.appendChild(top);
    if (times.length < 2) {
      const t = svgEl('text', { x: L + 10, y: H / 2 });
      t.textContent = 'waiting for samples…';
      svg.appendChild(t);
      return;
    }
    const t0 = times[0], span = times[times.length - 1] - t0 || 1;
    const x = (t) => L + ((t - t0) / span) * (W - L - 4);
    const y = (v) => H - B - (v / max) * (H - B - T);
    for (const s of series) {
      const pts = [];
      s.values.forEach((v, i) => { if (v != null) pts.push(x(times[i]).toFixed(1) + ',' + y(v).toFixed(1)); });
      if (pts.length) svg.appendChild(svgEl('polyline', { points: pts.join(' '), stroke: s.color }));
    }
    const left = svgEl('text', { x: L, y: H - 4 });
    left.textContent = new Date(t0 * 1000).toLocaleTimeString();
    const right = svgEl('text', { x: W - 60, y: H - 4 });
    right.textContent = new Date(times[times.length - 1] * 1000).toLocaleTimeString();
    svg.append(left, right);
  }

  async function refreshTraffic() {
    const [samples, shards, ops, largest] = await Promise.all([
      api('/api/gateway/samples'), api('/api/shards'), api('/api/operations?limit=20'),
      api('/api/tenants/?order=storage&limit=10'),
    ]);
    const s = samples.samples, dt = samples.interval_s;
    interval = dt;
    const times = s.map((x) => x.t);
    chart($('chart-rps'), times, [
      { values: s.map((x) => x.requests / dt), color: COLORS[0] },
      { values: s.map((x) => x.errors / dt), color: '#b3261e' },
    ]);
    const nshards = shards.items.length;
    const p99 = [];
    for (let k = 0; k < nshards; k++)
      p99.push({ values: s.map((x) => (x.shards[k] ? x.shards[k].p99_ms : null)), color: COLORS[k % COLORS.length] });
    chart($('chart-p99'), times, p99);
    const last = s.length ? s[s.length - 1] : null;
    fill($('shards').tBodies[0], shards.items, (sh) => {
      const cur = last && last.shards[sh.shard];
      return [
        [sh.shard + (sh.dedicated ? ' (dedicated)' : ''), 'num'], [sh.cluster, 'num'], [sh.tenants, 'num'],
        [size(sh.storage_bytes), 'num'], [cur ? (cur.calls / dt).toFixed(1) : null, 'num'],
        [cur && cur.p99_ms != null ? cur.p99_ms.toFixed(1) : null, 'num'], [cur ? cur.failed : null, 'num'],
        [sh.up ? 'up' : 'down', sh.up ? 'up' : 'down'],
      ];
    }, 'no shards');
    fill($('top-requests').tBodies[0], samples.top_tenants,
      (t) => [[t.tenant_id, 'id'], [t.requests, 'num']], 'no requests yet');
    fill($('top-storage').tBodies[0], largest.items,
      (t) => [[t.tenant_name], [t.shard, 'num'], [size(t.storage_bytes), 'num']], 'no tenants');
    fill($('operations').tBodies[0], ops.items, (o) => [
      [o.kind], [o.tenant_id, 'id'], [o.from_shard, 'num'], [o.to_shard, 'num'], [o.state],
      [o.progress], [when(o.started_at)], [o.error],
    ], 'no operations');
    $('status').textContent = 'updated ' + new Date().toLocaleTimeString();
  }

  async function loadTenants() {
    const q = $('q').value.trim();
    let path = '/api/tenants/?limit=20';
    if (q) path += '&q=' + encodeURIComponent(q);
    if (pages[at]) path += '&cursor=' + encodeURIComponent(pages[at]);
    const page = await api(path);
    fill($('tenants').tBodies[0], page.items, (t) => [
      [t.tenant_name], [t.tenant_id, 'id'], [t.status], [t.shard, 'num'], [size(t.storage_bytes), 'num'],
      [when(t.created_at)],
    ], q ? 'no tenant matches' : 'no tenants');
    pages[at + 1] = page.next_cursor;
    $('prev').disabled = at === 0;
    $('next').disabled = !page.next_cursor;
    $('page').textContent = 'page ' + (at + 1);
  }

  const report = (e) => { $('status').textContent = e.message; };

  $('login').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    token = $('token').value.trim();
    $('token').value = '';
    try {
      await refreshTraffic();
      await loadTenants();
    } catch (e) {
      token = null;
      $('login-error').textContent = e.message;
      return;
    }
    $('login').hidden = true;
    $('main').hidden = false;
    clearInterval(timer);
    timer = setInterval(() => refreshTraffic().catch(report), Math.max(1000, 1000 * interval));
  });
  $('search').addEventListener('submit', (ev) => {
    ev.preventDefault();
    pages = [null];
    at = 0;
    loadTenants().catch(report);
  });
  $('next').addEventListener('click', () => { at++; loadTenants().catch(report); });
  $('prev').addEventListener('click', () => { if (at > 0) at--; loadTenants().catch(report); });
})();
