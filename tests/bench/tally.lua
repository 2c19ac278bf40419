-- Shared by the scripts that count outcomes: numbers wrk's threads (tid),
-- and sums each thread's ok / conflict / other into one RESULT line.
local threads, counter = {}, 1
function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
  table.insert(threads, thread)
end
function tally_init()
  ok, conflict, other = 0, 0, 0
end
-- status: 200 is ok; 412 (or conflict = true) a conflict; the rest other
function tally(status, is_conflict)
  if status == 200 and not is_conflict then ok = ok + 1
  elseif status == 412 or is_conflict then conflict = conflict + 1
  else other = other + 1 end
end
function done(summary, latency, requests)
  local o, c, x = 0, 0, 0
  for _, t in ipairs(threads) do
    o = o + t:get("ok"); c = c + t:get("conflict"); x = x + t:get("other")
  end
  io.write(string.format("RESULT ok=%d conflict=%d other=%d us=%d\n", o, c, x,
                         summary.duration))
end
