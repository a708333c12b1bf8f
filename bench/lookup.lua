-- wrk script: POST lookups for a rotating list of real (ID number, name) pairs.
-- Reads bench/results/people.txt ("id_number<TAB>name" per line) and the token from the environment.
local people = {}
local token = os.getenv("BENCH_TOKEN")
for line in io.lines(os.getenv("BENCH_PEOPLE")) do
  local id, name = line:match("([^\t]+)\t([^\t]+)")
  people[#people + 1] = string.format('{"id_number":"%s","name":"%s"}', id, name)
end
local i = 0
request = function()
  i = i % #people + 1
  return wrk.format("POST", "/api/mp/v1/lookup",
    {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. token}, people[i])
end
