-- GET of random keys among bench/scale/t{1,2}-{1..N} (N: the argument).
function init(args)
  n = tonumber(args[1])
end
function request()
  return wrk.format("GET", "/api/storage/bench/scale/t" .. math.random(2) .. "-" .. math.random(n))
end
