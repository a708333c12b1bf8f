-- wrk script: POST signed payment notifications, each once.
-- BENCH_NOTICES names a file of notification XML bodies (one a line); each of the
-- BENCH_WRK_THREADS threads takes every n-th line. An answer counts as a credit when it carries
-- WeChat's SUCCESS. A thread that runs out of notifications stops and says so. Prints one
-- "notify-result" line: statuses and SUCCESS answers counted over all threads.
local threads = {}
local next_id = 0

function setup(thread)
  thread:set("tid", next_id)
  next_id = next_id + 1
  threads[#threads + 1] = thread
end

function init(args)
  local n = tonumber(os.getenv("BENCH_WRK_THREADS") or "2")
  notices = {}
  local line_no = 0
  for xml in io.lines(os.getenv("BENCH_NOTICES")) do
    if line_no % n == tid then
      notices[#notices + 1] = xml
    end
    line_no = line_no + 1
  end
  sent = 0
  statuses = {}
  successes = 0
  exhausted = 0
end

request = function()
  if sent >= #notices then
    exhausted = 1
    sent = #notices - 1 -- resend the last one (already recorded) until the thread stops
  end
  sent = sent + 1
  return wrk.format("POST", "/api/payments/wechat/notify",
    {["Content-Type"] = "text/xml"}, notices[sent])
end

response = function(status, headers, body)
  local key = tostring(status)
  statuses[key] = (statuses[key] or 0) + 1
  if exhausted == 0 and body:find("<![CDATA[SUCCESS]]>", 1, true) then
    successes = successes + 1
  end
  if exhausted == 1 then
    wrk.thread:stop()
  end
end

done = function(summary, latency, requests)
  local counts, total, out_of_notices = {}, 0, 0
  for _, thread in ipairs(threads) do
    for status, count in pairs(thread:get("statuses")) do
      counts[status] = (counts[status] or 0) + count
    end
    total = total + thread:get("successes")
    out_of_notices = out_of_notices + thread:get("exhausted")
  end
  local parts = {}
  for status, count in pairs(counts) do
    parts[#parts + 1] = string.format('"%s":%d', status, count)
  end
  io.write(string.format(
    'notify-result {"statuses":{%s},"successes":%d,"threads_out_of_notices":%d}\n',
    table.concat(parts, ","), total, out_of_notices))
end
