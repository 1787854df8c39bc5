-- wrk script for the webhook benchmark (bench/webhook_bench.py).
-- Environment: BENCH_BODIES_FILE (one JSON body per line), BENCH_THREADS (wrk's -t), BENCH_PATH (request
-- path and query), BENCH_TOKEN (the webhook secret, sent as X-Webhook-Token).
-- Thread k of t sends lines k, k+t, k+2t, ... in order, so no two threads send the same body and each body
-- is sent once before any is sent again: while a thread has unsent lines every request is a first delivery.
local threads = {}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
  table.insert(threads, thread)
end

function init(args)
  local nthreads = tonumber(os.getenv("BENCH_THREADS"))
  path = os.getenv("BENCH_PATH")
  headers = {["Content-Type"] = "application/json", ["X-Webhook-Token"] = os.getenv("BENCH_TOKEN")}
  bodies = {}
  local line_no = 0
  for line in io.lines(os.getenv("BENCH_BODIES_FILE")) do
    if line_no % nthreads == id - 1 then
      bodies[#bodies + 1] = line
    end
    line_no = line_no + 1
  end
  sent = 0
  pool = #bodies
  non2xx = 0
end

function request()
  sent = sent + 1
  return wrk.format("POST", path, headers, bodies[((sent - 1) % pool) + 1])
end

function response(status, headers, body)
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
  end
end

function done(summary, latency, requests)
  local sent_total, first_total, non2xx_total, max_sent = 0, 0, 0, 0
  for _, thread in ipairs(threads) do
    local thread_sent = thread:get("sent")
    sent_total = sent_total + thread_sent
    max_sent = math.max(max_sent, thread_sent)
    first_total = first_total + math.min(thread_sent, thread:get("pool"))
    non2xx_total = non2xx_total + thread:get("non2xx")
  end
  io.write(string.format(
    "BENCH_RESULT requests=%d duration_us=%d sent=%d max_sent=%d first=%d non2xx=%d errors_connect=%d errors_read=%d " ..
    "errors_write=%d errors_timeout=%d p50_us=%d p90_us=%d p99_us=%d max_us=%d\n",
    summary.requests, summary.duration, sent_total, max_sent, first_total, non2xx_total, summary.errors.connect,
    summary.errors.read, summary.errors.write, summary.errors.timeout, latency:percentile(50),
    latency:percentile(90), latency:percentile(99), latency.max))
end
