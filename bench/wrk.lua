-- wrk script shared by the scenarios. Environment:
--   BENCH_PATH   path template; "{tenant}" is replaced by a random tenant id per request
--   BENCH_IDS    file with one tenant id per line (needed when the path names a tenant)
--   BENCH_AUTH   value of the Authorization header (optional)
--   BENCH_HEADER_TENANT=1  also send X-Tenant-ID with the chosen tenant
-- done() prints one JSON line that bench/run.sh collects.
local path = os.getenv("BENCH_PATH") or "/healthz"
local auth = os.getenv("BENCH_AUTH")
local tenant_header = os.getenv("BENCH_HEADER_TENANT") == "1"
local ids = {}

function init(args)
  local file = os.getenv("BENCH_IDS")
  if file then
    for line in io.lines(file) do ids[#ids + 1] = line end
  end
  math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))
end

function request()
  local headers = {}
  if auth then headers["Authorization"] = auth end
  local p = path
  if #ids > 0 then
    local id = ids[math.random(#ids)]
    p = p:gsub("{tenant}", id)
    if tenant_header then headers["X-Tenant-ID"] = id end
  end
  return wrk.format("GET", p, headers)
end

function done(summary, latency, requests)
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write
                 + summary.errors.status + summary.errors.timeout
  io.write(string.format(
    'BENCH {"rps": %.1f, "p50_ms": %.3f, "p99_ms": %.3f, "requests": %d, "errors": %d}\n',
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, summary.requests, errors))
end
