-- wrk script of scripts/bench-recall.sh: every request a different page of the recall API, so
-- no answer is served twice from a warm statement.
--   wrk ... -s scripts/recall_load.lua URL -- window FIRST LAST TOKEN
--     a page of 50 in a random one-hour window between FIRST and LAST (Unix seconds);
--   wrk ... -s scripts/recall_load.lua URL -- search WORD[,WORD...] TOKEN
--     a full-text page of 50 for one of the words;
--   wrk ... -s scripts/recall_load.lua URL -- athena FIRST LAST TOKEN
--     the same in Athena's shape (each event's session read: scripts/bench-related.sh);
--   wrk ... -s scripts/recall_load.lua URL -- related SOURCE N TOKEN
--     the related events of event `record:K` of SOURCE, K random from 1 to N
--     (scripts/bench-related.sh).
-- TOKEN is `-` for none.
local mode, a, b, token
local words = {}

-- Each wrk thread gets its own number, so that the threads draw different sequences.
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("id", threads)
end

function init(args)
  mode = args[1]
  if mode == "window" or mode == "athena" then
    a, b, token = tonumber(args[2]), tonumber(args[3]), args[4]
  elseif mode == "related" then
    a, b, token = args[2], tonumber(args[3]), args[4]
  else
    for w in string.gmatch(args[2], "[^,]+") do words[#words + 1] = w end
    token = args[3]
  end
  -- A fixed seed (ATHENA_BENCH_SEED, default 1) gives every run the same pages, so that two
  -- builds measured one after the other are asked the same questions: the search words differ
  -- in cost by 30 times, and a different mix moves the median by more than a change would.
  math.randomseed((tonumber(os.getenv("ATHENA_BENCH_SEED")) or 1) * 1000 + (id or 0))
end

local function headers()
  if token and token ~= "-" then
    return { Authorization = "Bearer " .. token }
  end
  return {}
end

function request()
  local path
  if mode == "related" then
    path = string.format("/v1/events/%s/record:%d/related?limit=50", a, math.random(1, b))
  elseif mode == "window" or mode == "athena" then
    local from = math.random(a, math.max(a, b - 3600))
    path = string.format("/v1/events?since=%s&until=%s&limit=50",
      os.date("!%Y-%m-%dT%H:%M:%SZ", from), os.date("!%Y-%m-%dT%H:%M:%SZ", from + 3600))
    if mode == "athena" then path = path .. "&format=athena" end
  else
    path = "/v1/events?limit=50&q=" .. words[math.random(#words)]
  end
  return wrk.format("GET", path, headers())
end

-- An answer other than 2xx/3xx would be fast and hide a slow query: the script fails on any.
function done(summary, latency)
  io.write(string.format("non-200: %d\n", summary.errors.status))
  for _, p in ipairs({ 50, 90, 99 }) do
    io.write(string.format("p%d_ms: %.2f\n", p, latency:percentile(p) / 1000))
  end
  io.write(string.format("requests: %d\n", summary.requests))
end
