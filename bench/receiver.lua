-- wrk script of bench/receiver.py: a unique id per request, every answer checked, one JSON line at the end.
-- Arguments after "--": id prefix, path (with "{uid}" where the id goes), check ("ok" or "receiver").
local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  prefix, template, kind = args[1], args[2], args[3]
  n, ok, bad = 0, 0, 0
end

function request()
  n = n + 1
  -- gsub returns the count as well: keep only the string.
  local path = template:gsub("{uid}", prefix .. "-" .. id .. "-" .. n)
  return wrk.format("GET", path)
end

function response(status, headers, body)
  local good
  if kind == "ok" then
    good = status == 200 and body == "ok"
  else
    -- Django's JsonResponse writes "key": value; with unique ids a duplicate is an error.
    good = status == 200 and body:find('"success": true', 1, true) ~= nil
      and body:find('"duplicate": true', 1, true) == nil
  end
  if good then ok = ok + 1 else bad = bad + 1 end
end

function done(summary, latency, requests)
  local total_ok, total_bad = 0, 0
  for _, thread in ipairs(threads) do
    total_ok = total_ok + thread:get("ok")
    total_bad = total_bad + thread:get("bad")
  end
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, "ok": %d, "bad": %d, '
      .. '"connect": %d, "read": %d, "write": %d, "timeout": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), total_ok, total_bad,
    e.connect, e.read, e.write, e.timeout))
end
