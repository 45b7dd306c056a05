-- wrk script for tests/soak/soak.py: cycles through the site's paths (read from
-- the file named by SOAK_PATHS, one path a line) and Accept-Encoding variants,
-- and prints one JSON line with the totals, which soak.py parses.
-- Non-2xx/3xx responses are wrk's summary.errors.status (status > 399).
local paths = {}
local encodings = {"br, gzip", "gzip", "identity", nil}
local counter = 0

init = function(args)
  local f = assert(io.open(os.getenv("SOAK_PATHS"), "r"))
  for line in f:lines() do
    if #line > 0 then paths[#paths + 1] = line end
  end
  f:close()
  counter = math.random(1, #paths)
end

request = function()
  counter = counter + 1
  local path = paths[counter % #paths + 1]
  local enc = encodings[counter % 4 + 1]
  local headers = {}
  if enc then headers["Accept-Encoding"] = enc end
  return wrk.format("GET", path, headers)
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'SOAK-JSON {"requests":%d,"duration_us":%d,"bytes":%d,"connect":%d,"read":%d,"write":%d,' ..
    '"status":%d,"timeout":%d,"p50_us":%d,"p99_us":%d,"max_us":%d}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status,
    e.timeout, latency:percentile(50), latency:percentile(99), latency.max))
end
