-- wrk script: POST signed WeChat Pay XML bodies, each once: unifiedorder calls straight to the
-- (fake) platform, or payment notifications to the app.
--   BENCH_BODIES   a file of XML bodies, one a line; each of the BENCH_WRK_THREADS threads takes
--                  every n-th line
--   BENCH_PATH     where to post them
--   BENCH_SUCCESS  the text an accepted answer carries (WeChat's SUCCESS in its element)
--   BENCH_LABEL    the result line's name
-- A thread that runs out of bodies stops and says so. Prints one "<label>-result" line: statuses
-- and accepted answers counted over all threads.
local threads = {}
local next_id = 0

function setup(thread)
  thread:set("tid", next_id)
  next_id = next_id + 1
  threads[#threads + 1] = thread
end

function init(args)
  local n = tonumber(os.getenv("BENCH_WRK_THREADS") or "2")
  path = os.getenv("BENCH_PATH")
  success = os.getenv("BENCH_SUCCESS")
  bodies = {}
  local line_no = 0
  for xml in io.lines(os.getenv("BENCH_BODIES")) do
    if line_no % n == tid then
      bodies[#bodies + 1] = xml
    end
    line_no = line_no + 1
  end
  sent = 0
  statuses = {}
  successes = 0
  exhausted = 0
end

request = function()
  if sent >= #bodies then
    exhausted = 1
    sent = #bodies - 1 -- resend the last one (a repeat, not counted) until the thread stops
  end
  sent = sent + 1
  return wrk.format("POST", path, {["Content-Type"] = "text/xml"}, bodies[sent])
end

response = function(status, headers, body)
  local key = tostring(status)
  statuses[key] = (statuses[key] or 0) + 1
  if exhausted == 0 and body:find(success, 1, true) then
    successes = successes + 1
  end
  if exhausted == 1 then
    wrk.thread:stop()
  end
end

done = function(summary, latency, requests)
  local counts, total, out_of_bodies = {}, 0, 0
  for _, thread in ipairs(threads) do
    for status, count in pairs(thread:get("statuses")) do
      counts[status] = (counts[status] or 0) + count
    end
    total = total + thread:get("successes")
    out_of_bodies = out_of_bodies + thread:get("exhausted")
  end
  local parts = {}
  for status, count in pairs(counts) do
    parts[#parts + 1] = string.format('"%s":%d', status, count)
  end
  io.write(string.format(
    '%s-result {"statuses":{%s},"successes":%d,"threads_out_of_bodies":%d}\n',
    os.getenv("BENCH_LABEL"), table.concat(parts, ","), total, out_of_bodies))
end
