-- etcd v3 point reads (POST /v3/kv/range) over the 1000 keys that
-- etcd_cas.lua's first thread wrote.
package.path = package.path .. ";" .. os.getenv("BENCH_DIR") .. "/?.lua"
require "b64"
local NKEYS = 1000
function init(args)
  bodies, idx = {}, math.random(NKEYS)
  for i = 1, NKEYS do
    bodies[i] = '{"key":"' .. b64(string.format("t1-key%05d", i)) .. '"}'
  end
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end
function request()
  idx = idx % NKEYS + 1
  return wrk.format(nil, "/v3/kv/range", nil, bodies[idx])
end
