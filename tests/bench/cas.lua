-- Conditional PUT (If-Match of the version last seen) of 1 KiB values
-- (a headers table given to wrk.format replaces wrk.headers: it names
-- Content-Type itself):
-- each wrk thread cycles over its own 1000 keys bench/<set>/t<thread>-<i>
-- (preloaded at version 1; the set is the script's argument, default cas),
-- so with fewer connections than keys no key is in flight twice. Every
-- answer (200, or 412 with the current state) tells the key's version.
package.path = package.path .. ";" .. os.getenv("BENCH_DIR") .. "/?.lua"
require "tally"
local NKEYS = 1000
function init(args)
  tally_init()
  idx = 0
  keys, ver = {}, {}
  local set = args[1] or "cas"
  for i = 1, NKEYS do
    keys[i] = "bench/" .. set .. "/t" .. tid .. "-" .. i
    ver[keys[i]] = 1
  end
  body = '{"value":"' .. string.rep("y", 1024 - 14) .. '"}'
  wrk.method = "PUT"
  wrk.headers["Content-Type"] = "application/json"
  local tok = os.getenv("BENCH_TOKEN")
  auth = tok and tok ~= "" and ("Bearer " .. tok) or nil
end
function request()
  idx = idx % NKEYS + 1
  local k = keys[idx]
  return wrk.format(nil, "/api/storage/" .. k, { ["If-Match"] = '"' .. ver[k] .. '"', ["Content-Type"] = "application/json", ["Authorization"] = auth }, body)
end
function response(status, headers, body)
  local k, v = body:match('"key":"([^"]+)".-"version":(%d+)')
  if k then ver[k] = tonumber(v) end
  tally(status)
end
