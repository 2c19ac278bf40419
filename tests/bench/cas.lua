-- Conditional PUT (If-Match of the version last seen) of 1 KiB values
-- (a headers table given to wrk.format replaces wrk.headers: it names
-- Content-Type itself):
-- each wrk thread cycles over its own 1000 keys bench/<set>/t<thread>-<i>
-- (preloaded at version 1; the set is the script's argument, default cas),
-- so with fewer connections than keys no key is in flight twice. Every
-- answer (200, or 412 with the current state) tells the key's version.
local NKEYS = 1000
local threads, counter = {}, 1
function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
  table.insert(threads, thread)
end
function init(args)
  idx, ok, conflict, other = 0, 0, 0, 0
  keys, ver = {}, {}
  local set = args[1] or "cas"
  for i = 1, NKEYS do
    keys[i] = "bench/" .. set .. "/t" .. tid .. "-" .. i
    ver[keys[i]] = 1
  end
  body = '{"value":"' .. string.rep("y", 1024 - 14) .. '"}'
  wrk.method = "PUT"
  wrk.headers["Content-Type"] = "application/json"
end
function request()
  idx = idx % NKEYS + 1
  local k = keys[idx]
  return wrk.format(nil, "/api/storage/" .. k, { ["If-Match"] = '"' .. ver[k] .. '"', ["Content-Type"] = "application/json" }, body)
end
function response(status, headers, body)
  local k, v = body:match('"key":"([^"]+)".-"version":(%d+)')
  if k then ver[k] = tonumber(v) end
  if status == 200 then ok = ok + 1
  elseif status == 412 then conflict = conflict + 1
  else other = other + 1 end
end
function done(summary, latency, requests)
  local o, c, x = 0, 0, 0
  for _, t in ipairs(threads) do
    o = o + t:get("ok"); c = c + t:get("conflict"); x = x + t:get("other")
  end
  io.write(string.format("RESULT ok=%d conflict=%d other=%d\n", o, c, x))
end
