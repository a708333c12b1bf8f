-- wrk script: the baseline endpoint with a body of the same shape as a lookup.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"id_number":"41072119800101001X","name":"张三"}'
request = function()
  return wrk.format("POST", "/bench/echo")
end
