-- wrk script: each connection acquires an NVENC lease and releases it, over and over.
-- Counts 201 (granted), 429 (budget full), 204 (released) and anything else per thread; prints them at the end.
local key = os.getenv("GPULXC_KEY")
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  pending = {}
  granted, refused, released, other = 0, 0, 0, 0
  acquire = wrk.format("POST", "/api/v1/nvenc/leases",
    { ["Authorization"] = "Bearer " .. key, ["Content-Type"] = "application/json" },
    '{"holder":"wrk","ttlSeconds":5}')
end

function request()
  local id = table.remove(pending)
  if id then
    return wrk.format("DELETE", "/api/v1/nvenc/leases/" .. id, { ["Authorization"] = "Bearer " .. key })
  end
  return acquire
end

function response(status, headers, body)
  if status == 201 then
    granted = granted + 1
    table.insert(pending, body:match('"id":"(%x+)"'))
  elseif status == 429 then
    refused = refused + 1
  elseif status == 204 then
    released = released + 1
  else
    other = other + 1
  end
end

function done(summary, latency, requests)
  local g, r, rel, o = 0, 0, 0, 0
  for _, thread in ipairs(threads) do
    g = g + thread:get("granted")
    r = r + thread:get("refused")
    rel = rel + thread:get("released")
    o = o + thread:get("other")
  end
  local seconds = summary.duration / 1e6
  io.write(string.format("granted %d, refused %d, released %d, other %d in %.1f s: %.0f acquire+release pairs/s, p50 %.2f ms, p99 %.2f ms\n",
    g, r, rel, o, seconds, rel / seconds, latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
