-- wrk script shared by the scenarios. Environment:
--   BENCH_PATH    path; "{tenant}" is replaced by the chosen tenant id
--   BENCH_METHOD  GET (default) or POST
--   BENCH_BODY    body template; "{email}" and "{password}" come from the chosen line
--   BENCH_IDS     file of tab-separated lines: tenant id, access token, email, password,
--                 comma-separated quiz ids ("{quiz}" in the path picks one), the quizzes'
--                 author's (the admin's) access token
--   BENCH_MIX=1   90% GET of the path, 10% POST of an empty attempt to the same quiz
--   BENCH_AUTH    Authorization header for every request (platform token), or
--   BENCH_USER=1  "Bearer <token of the line>" and X-Tenant-ID
--   BENCH_AUTHOR=1  the same with the author's token
--   BENCH_HEADER_TENANT=1  send X-Tenant-ID of the chosen line
--   BENCH_RETRY_AFTER=1    a connection told Retry-After waits that long, as a client should
--   BENCH_PAUSE_MS         each connection pauses this long between requests (a paced client)
-- Each request picks a random line, so load spreads over tenants and shards like real traffic.
-- done() prints one JSON line that bench/run.sh collects.
local path = os.getenv("BENCH_PATH") or "/healthz"
local method = os.getenv("BENCH_METHOD") or "GET"
local body = os.getenv("BENCH_BODY")
local auth = os.getenv("BENCH_AUTH")
local as_author = os.getenv("BENCH_AUTHOR") == "1"
local as_user = os.getenv("BENCH_USER") == "1" or as_author
local tenant_header = os.getenv("BENCH_HEADER_TENANT") == "1" or as_user
local lines = {}
local mix = os.getenv("BENCH_MIX") == "1"

function init(args)
  local file = os.getenv("BENCH_IDS")
  if file then
    for line in io.lines(file) do
      local t, tok, email, pw, qs, author =
        line:match("^([^\t]*)\t?([^\t]*)\t?([^\t]*)\t?([^\t]*)\t?([^\t]*)\t?([^\t]*)")
      local quizzes = {}
      for q in (qs or ""):gmatch("[^,]+") do quizzes[#quizzes + 1] = q end
      lines[#lines + 1] = {tenant = t, token = tok, email = email, password = pw, quizzes = quizzes,
                           author = author}
    end
  end
  math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))
end

function request()
  local headers = {}
  if auth then headers["Authorization"] = auth end
  local p, b, m = path, body, method
  if #lines > 0 then
    local l = lines[math.random(#lines)]
    p = p:gsub("{tenant}", l.tenant)
    if #l.quizzes > 0 then p = p:gsub("{quiz}", l.quizzes[math.random(#l.quizzes)]) end
    if mix and math.random(10) == 1 then
      m, p, b = "POST", p .. "/attempts", '{"answers":[]}'
    end
    if tenant_header then headers["X-Tenant-ID"] = l.tenant end
    if as_user then headers["Authorization"] = "Bearer " .. (as_author and l.author or l.token) end
    if b then b = b:gsub("{email}", l.email):gsub("{password}", l.password) end
  end
  if b then headers["Content-Type"] = "application/json" end
  return wrk.format(m, p, headers, b)
end

local failures = 0
local retry_after = os.getenv("BENCH_RETRY_AFTER") == "1"
local wait_ms = 0
function response(status, headers, resp_body)
  if status >= 400 then failures = failures + 1 end
  -- wrk asks delay() for the same connection's next request right after its response.
  if retry_after and headers["Retry-After"] then
    wait_ms = (tonumber(headers["Retry-After"]) or 1) * 1000
  end
end

local pause_ms = tonumber(os.getenv("BENCH_PAUSE_MS") or "0") or 0
if retry_after or pause_ms > 0 then
  function delay()
    local ms = wait_ms + pause_ms
    wait_ms = 0
    return ms
  end
end

function done(summary, latency, requests)
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write
                 + summary.errors.status + summary.errors.timeout
  io.write(string.format(
    'BENCH {"rps": %.1f, "p50_ms": %.3f, "p99_ms": %.3f, "requests": %d, "errors": %d}\n',
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, summary.requests, errors))
end
