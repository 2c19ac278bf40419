-- Unconditional PUT of 1 KiB values, every request a new key.
local counter = 1
function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
end
function init(args)
  n = 0
  body = '{"value":"' .. string.rep("x", 1024 - 14) .. '"}'
  wrk.method = "PUT"
  wrk.headers["Content-Type"] = "application/json"
end
function request()
  n = n + 1
  return wrk.format(nil, "/api/storage/bench/put/t" .. tid .. "-" .. n, nil, body)
end
