-- Read-CAS-retry on ONE key: every request is a compare-and-swap with the
-- version this thread saw last; a 412 carries the current version, which
-- is the read for the retry. Counts successful swaps and conflicts.
package.path = package.path .. ";" .. os.getenv("BENCH_DIR") .. "/?.lua"
require "tally"
function init(args)
  tally_init()
  ver = 1
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
  tally(status)
end
