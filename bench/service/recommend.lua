-- wrk script: GET /v1/recommend/u<k> for a user drawn uniformly from
-- NS_USERS users (default 10000), with a device and page, n=10.
local users = tonumber(os.getenv("NS_USERS") or "10000")
local devices = {"mobile", "desktop", "tablet"}
math.randomseed(42)
request = function()
  local u = math.random(0, users - 1)
  local d = devices[math.random(1, 3)]
  return wrk.format("GET", "/v1/recommend/u" .. u .. "?n=10&device=" .. d .. "&page=home")
end
