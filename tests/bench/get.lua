-- GET of 1 KiB values over 100 hot keys (bench/hot/1..100).
local N = 100
function init(args)
  idx = math.random(N)
  local tok = os.getenv("BENCH_TOKEN")
  if tok and tok ~= "" then
    wrk.headers["Authorization"] = "Bearer " .. tok
  end
end
function request()
  idx = idx % N + 1
  return wrk.format("GET", "/api/storage/bench/hot/" .. idx)
end
