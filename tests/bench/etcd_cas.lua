-- etcd v3 compare-and-swap (POST /v3/kv/txn comparing mod_revision) of
-- 1 KiB values: each wrk thread cycles over its own 1000 keys, remembering
-- each key's mod_revision (the answer carries it, on success or failure).
package.path = package.path .. ";" .. os.getenv("BENCH_DIR") .. "/?.lua"
require "b64"
local NKEYS = 1000
local threads, counter = {}, 1
function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
  table.insert(threads, thread)
end
function init(args)
  keys, rev, idx, ok, conflict, other = {}, {}, 0, 0, 0, 0
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
  if status ~= 200 then other = other + 1; return end
  if body:find('"succeeded":true', 1, true) then
    ok = ok + 1
    local k = body:match('"prev_kv":{"key":"([^"]+)"')
    if k then rev[k] = body:match('"revision":"(%d+)"') end
  else
    conflict = conflict + 1
    local k, mr = body:match('"kvs":%[{"key":"([^"]+)".-"mod_revision":"(%d+)"')
    if k then rev[k] = mr end
  end
end
function done(summary, latency, requests)
  local o, c, x = 0, 0, 0
  for _, t in ipairs(threads) do
    o = o + t:get("ok"); c = c + t:get("conflict"); x = x + t:get("other")
  end
  io.write(string.format("RESULT ok=%d conflict=%d other=%d\n", o, c, x))
end
