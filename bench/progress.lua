-- wrk script: a county's progress with its ranked townships, rotating over the city's counties
-- and both schemes. BENCH_COUNTIES: comma-separated 6-digit codes; BENCH_TOKEN: a staff token.
local token = os.getenv("BENCH_TOKEN")
local paths = {}
for county in string.gmatch(os.getenv("BENCH_COUNTIES"), "[^,]+") do
  paths[#paths + 1] = "/api/staff/v1/progress?region=" .. county .. "&scheme=medical&period_year=2020"
  paths[#paths + 1] = "/api/staff/v1/progress?region=" .. county .. "&scheme=pension&period_year=2019"
end
local i = 0
request = function()
  i = i % #paths + 1
  return wrk.format("GET", paths[i], {["Authorization"] = "Bearer " .. token})
end
