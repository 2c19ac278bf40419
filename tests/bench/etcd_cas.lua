-- etcd v3 compare-and-swap (POST /v3/kv/txn comparing mod_revision) of
-- 1 KiB values: each wrk thread cycles over its own 1000 keys, remembering
-- each key's mod_revision (the answer carries it, on success or failure).
package.path = package.path .. ";" .. os.getenv("BENCH_DIR") .. "/?.lua"
require "b64"
require "tally"
local NKEYS = 1000
function init(args)
  tally_init()
  keys, rev, idx = {}, {}, 0
  val = b64(string.rep("v", 1023))
  for i = 1, NKEYS do
    keys[i] = b64(string.format("t%d-key%05d", tid, i))
    rev[keys[i]] = "0"
  end
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end
function request()
  idx = idx % NKEYS + 1
  local k = keys[idx]
  return wrk.format(nil, "/v3/kv/txn", nil,
    '{"compare":[{"target":"MOD","key":"' .. k .. '","mod_revision":"' .. rev[k] ..
    '","result":"EQUAL"}],"success":[{"request_put":{"key":"' .. k .. '","value":"' ..
    val .. '","prev_kv":true}}],"failure":[{"request_range":{"key":"' .. k .. '"}}]}')
end
function response(status, headers, body)
  local won = body:find('"succeeded":true', 1, true)
  tally(status, status == 200 and not won)
  if status ~= 200 then return end
  if won then
    local k = body:match('"prev_kv":{"key":"([^"]+)"')
    if k then rev[k] = body:match('"revision":"(%d+)"') end
  else
    local k, mr = body:match('"kvs":%[{"key":"([^"]+)".-"mod_revision":"(%d+)"')
    if k then rev[k] = mr end
  end
end
