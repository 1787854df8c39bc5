-- wrk script: POST one of N pre-rendered webhook bodies, round robin, with the token header.
-- Bodies are read from BENCH_BODIES_DIR/body-<i>.json (i = 1..BENCH_BODIES).
local dir = os.getenv("BENCH_BODIES_DIR")
local count = tonumber(os.getenv("BENCH_BODIES"))
local token = os.getenv("BENCH_TOKEN")
local bodies = {}
for i = 1, count do
  local f = assert(io.open(dir .. "/body-" .. i .. ".json", "rb"))
  bodies[i] = f:read("*all")
  f:close()
end
local n = 0
request = function()
  n = n + 1
  local body = bodies[(n % count) + 1]
  return wrk.format("POST", "/webhooks/nanonets",
    {["Content-Type"] = "application/json", ["X-Webhook-Token"] = token}, body)
end
done = function(summary, latency, requests)
  io.write(string.format("BENCH_RESULT requests=%d duration_us=%d errors_status=%d errors_connect=%d " ..
    "errors_timeout=%d p50_us=%d p99_us=%d\n",
    summary.requests, summary.duration, summary.errors.status, summary.errors.connect,
    summary.errors.timeout, latency:percentile(50), latency:percentile(99)))
end
