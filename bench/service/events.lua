-- wrk script: POST /v1/events with a batch of NS_BATCH (default 500)
-- click/impression events on random users and items of the simulator's
-- world (u0..u9999, i0..i49999), timestamped now.
local users = tonumber(os.getenv("NS_USERS") or "10000")
local items = tonumber(os.getenv("NS_ITEMS") or "50000")
local batch = tonumber(os.getenv("NS_BATCH") or "500")
math.randomseed(7)
request = function()
  local t = os.time()
  local parts = {}
  for k = 1, batch do
    local typ = (k % 20 == 0) and "click" or "impression"
    parts[k] = string.format('{"user":"u%d","item":"i%d","type":"%s","ts":%d}',
      math.random(0, users - 1), math.random(0, items - 1), typ, t)
  end
  return wrk.format("POST", "/v1/events", {["Content-Type"] = "application/json"},
    "[" .. table.concat(parts, ",") .. "]")
end
