-- bench.lua: one wrk script for every benchmark workload; prints one JSON line at the end.
--
-- Usage: wrk -s bench.lua URL -- MODE ARG... [close]
--   head PREFIX N      HEAD /heartbeat/PREFIX-i, rotating i over 0..N-1 (each thread
--                      starts at its own offset so threads do not touch the same agent)
--   post FILE          POST /heartbeat with the bodies in FILE (one JSON per line), rotating
--   get PATH [ETAG]    GET PATH, with If-None-Match: ETAG when given
--   A last argument "close" adds Connection: close (the MCP Mesh peer's HEAD reply has no
--   Content-Length, so keep-alive wrk would wait for a body that never comes).
--   An argument "bearer=TOKEN" (anywhere after MODE) adds Authorization: Bearer TOKEN.
-- Output: {"requests", "duration_us", "bytes", "errors": {...}, "latency_us": {...},
--          "status": {"200": n, ...}} on stdout, prefixed by "WRK_JSON ".

local threads = {}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("thread_no", counter)
  table.insert(threads, thread)
end

local mode, reqs, n, i, prefix, bodies, fixed
statuses = {}

function init(args)
  mode = args[1]
  local headers = {}
  if args[#args] == "close" then headers["Connection"] = "close" end
  local kept = {}
  for _, a in ipairs(args) do
    local token = string.match(a, "^bearer=(.+)$")
    if token then headers["Authorization"] = "Bearer " .. token else kept[#kept + 1] = a end
  end
  args = kept
  if mode == "head" then
    prefix, n = args[2], tonumber(args[3])
    i = ((thread_no or 1) - 1) * math.floor(n / 8)
    reqs = function()
      i = (i + 1) % n
      return wrk.format("HEAD", "/heartbeat/" .. prefix .. "-" .. i, headers)
    end
  elseif mode == "post" then
    bodies = {}
    for line in io.lines(args[2]) do bodies[#bodies + 1] = line end
    n, i = #bodies, (thread_no or 1) - 1
    headers["Content-Type"] = "application/json"
    reqs = function()
      i = (i % n) + 1
      return wrk.format("POST", "/heartbeat", headers, bodies[i])
    end
  elseif mode == "get" then
    if args[3] and args[3] ~= "close" then headers["If-None-Match"] = args[3] end
    fixed = wrk.format("GET", args[2], headers)
    reqs = function() return fixed end
  else
    error("bench.lua: unknown mode " .. tostring(mode))
  end
end

function request()
  return reqs()
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local total = {}
  for _, t in ipairs(threads) do
    for code, count in pairs(t:get("statuses") or {}) do
      total[tostring(code)] = (total[tostring(code)] or 0) + count
    end
  end
  local parts = {}
  for code, count in pairs(total) do parts[#parts + 1] = string.format('"%s": %d', code, count) end
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests": %d, "duration_us": %d, "bytes": %d, '
      .. '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, '
      .. '"latency_us": {"p50": %d, "p90": %d, "p99": %d, "max": %d, "mean": %.1f}, '
      .. '"status": {%s}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    latency.mean, table.concat(parts, ", ")))
end
