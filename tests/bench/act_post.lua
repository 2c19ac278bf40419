-- POST of 10 new items to the 100k-item set (ids unique per thread).
local counter = 1
function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
end
function init(args)
  n = 0
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end
function request()
  local items = {}
  for k = 1, 10 do
    n = n + 1
    items[k] = '{"id":"p' .. tid .. '-' .. n .. '","text":"posted by the bench"}'
  end
  return wrk.format(nil, "/api/activities/bench100k", nil,
                    '{"upsert":[' .. table.concat(items, ",") .. ']}')
end
