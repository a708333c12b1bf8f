-- wrk script: POST new orders, one registration each, never the same registration twice.
-- BENCH_REFS names a file of registration refs (one a line); each of the BENCH_WRK_THREADS
-- threads takes every n-th line, so no two requests of a run order the same registration.
-- BENCH_KEY_PREFIX makes the Idempotency-Keys of a run unique. A thread that runs out of refs
-- stops and says so. Prints one "orders-result" line: statuses counted over all threads.
local threads = {}
local next_id = 0

function setup(thread)
  thread:set("tid", next_id)
  next_id = next_id + 1
  threads[#threads + 1] = thread
end

function init(args)
  local n = tonumber(os.getenv("BENCH_WRK_THREADS") or "2")
  token = os.getenv("BENCH_TOKEN")
  prefix = os.getenv("BENCH_KEY_PREFIX")
  refs = {}
  local line_no = 0
  for ref in io.lines(os.getenv("BENCH_REFS")) do
    if line_no % n == tid then
      refs[#refs + 1] = ref
    end
    line_no = line_no + 1
  end
  sent = 0
  statuses = {}
  exhausted = 0
end

request = function()
  if sent >= #refs then
    exhausted = 1
    sent = #refs - 1 -- resend the last one (a replay) until the thread stops
  end
  sent = sent + 1
  local body = string.format(
    '{"items":[{"registration_ref":"%s"}],"trade_type":"JSAPI"}', refs[sent])
  return wrk.format("POST", "/api/mp/v1/orders", {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. token,
    ["Idempotency-Key"] = string.format("%s-%d-%d", prefix, tid, sent),
  }, body)
end

response = function(status, headers, body)
  local key = tostring(status)
  statuses[key] = (statuses[key] or 0) + 1
  if exhausted == 1 then
    wrk.thread:stop()
  end
end

done = function(summary, latency, requests)
  local counts, out_of_refs = {}, 0
  for _, thread in ipairs(threads) do
    for status, count in pairs(thread:get("statuses")) do
      counts[status] = (counts[status] or 0) + count
    end
    out_of_refs = out_of_refs + thread:get("exhausted")
  end
  local parts = {}
  for status, count in pairs(counts) do
    parts[#parts + 1] = string.format('"%s":%d', status, count)
  end
  io.write(string.format('orders-result {"statuses":{%s},"threads_out_of_refs":%d}\n',
    table.concat(parts, ","), out_of_refs))
end
