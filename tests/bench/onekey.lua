-- Read-CAS-retry on ONE key: every request is a compare-and-swap with the
-- version this thread saw last; a 412 carries the current version, which
-- is the read for the retry. Counts successful swaps and conflicts.
local threads, counter = {}, 1
function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
  table.insert(threads, thread)
end
function init(args)
  ver, ok, conflict, other = 1, 0, 0, 0
  wrk.method = "PUT"
  wrk.headers["Content-Type"] = "application/json"
end
function request()
  return wrk.format(nil, "/api/storage/bench/one", { ["If-Match"] = '"' .. ver .. '"', ["Content-Type"] = "application/json" },
                    '{"value":{"by":' .. tid .. '}}')
end
function response(status, headers, body)
  local v = body:match('"version":(%d+)')
  if v and tonumber(v) > ver then ver = tonumber(v) end
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
