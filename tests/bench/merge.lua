-- 30 clients merge-patching different fields of ONE key, no precondition:
-- every patch must land (200); the server merges, nobody retries.
package.path = package.path .. ";" .. os.getenv("BENCH_DIR") .. "/?.lua"
require "tally"
function init(args)
  tally_init()
  n = 0
  wrk.method = "PATCH"
  wrk.headers["Content-Type"] = "application/merge-patch+json"
end
function request()
  n = n + 1
  return wrk.format(nil, "/api/storage/bench/merged", nil,
                    '{"t' .. tid .. '":' .. n .. '}')
end
function response(status, headers, body)
  tally(status)
end
