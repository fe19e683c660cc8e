-- tools/bench-reference/post.lua: wrk script POSTing one fixed body, for
-- Connect unary calls over HTTP/1.1 keep-alive -- the catalog-server's
-- Connect listener (application/json or application/proto) and the PHP
-- reference (php_stack.sh, application/json) alike.
--
--   WRK_BODY=body.json [WRK_CONTENT_TYPE=application/json] \
--     wrk -t1 -c32 -d8s -s post.lua http://127.0.0.1:PORT/catalog.v1.CatalogService/BatchGetProducts
--   wrk ... -s post.lua URL -- body.bin application/proto      (arguments win over the environment)
--
-- The request also carries Connect-Protocol-Version: 1, as Connect clients
-- send it. At the end it prints one line (after wrk's own report):
--   wrk-result requests=N ok=N seconds=S rps=R ok_rps=R p50_ms=X p99_ms=X p999_ms=X
--              non2xx=N socket_errors=N timeouts=N bytes=N status_check=MODE
-- requests counts every complete response, ok those counted as successes
-- (requests - non2xx); percentiles are over all responses, from wrk's
-- latency record (no --latency needed). non2xx: by default wrk's own count
-- of statuses > 399 (status_check=gt399; the only other statuses these
-- servers could send, 1xx/3xx, they do not), at no cost to the client; with
-- WRK_COUNT_STATUS=1 every status outside 200..299 is counted by a
-- response() hook (status_check=exact), which makes wrk hand each response
-- to Lua and so costs client CPU: for checks, not for figures.

local function read_file(path)
   local f = assert(io.open(path, "rb"))
   local data = f:read("*a")
   f:close()
   return data
end

wrk.method = "POST"
wrk.headers["Content-Type"] = os.getenv("WRK_CONTENT_TYPE") or "application/json"
wrk.headers["Connect-Protocol-Version"] = "1"
if os.getenv("WRK_BODY") then
   wrk.body = read_file(os.getenv("WRK_BODY"))
end

function init(args)
   if args[1] then
      wrk.body = read_file(args[1])
   end
   if args[2] then
      wrk.headers["Content-Type"] = args[2]
   end
   if not wrk.body then
      io.stderr:write("post.lua: no body: set WRK_BODY or pass -- FILE [CONTENT_TYPE]\n")
      os.exit(2)
   end
end

local threads = {}

function setup(thread)
   table.insert(threads, thread)
end

local count_status = os.getenv("WRK_COUNT_STATUS") == "1"
if count_status then
   non2xx = 0 -- per thread state, read back in done() with thread:get
   function response(status, headers, body)
      if status < 200 or status > 299 then
         non2xx = non2xx + 1
      end
   end
end

function done(summary, latency, requests)
   local e = summary.errors
   local non2xx = e.status
   local mode = "gt399"
   if count_status then
      non2xx = 0
      for _, thread in ipairs(threads) do
         non2xx = non2xx + (thread:get("non2xx") or 0)
      end
      mode = "exact"
   end
   local seconds = summary.duration / 1e6
   local ok = summary.requests - non2xx
   io.write(string.format(
      "wrk-result requests=%d ok=%d seconds=%.3f rps=%.1f ok_rps=%.1f p50_ms=%.3f p99_ms=%.3f p999_ms=%.3f " ..
      "non2xx=%d socket_errors=%d timeouts=%d bytes=%d status_check=%s\n",
      summary.requests, ok, seconds, summary.requests / seconds, ok / seconds,
      latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency:percentile(99.9) / 1000,
      non2xx, e.connect + e.read + e.write, e.timeout, summary.bytes, mode))
end
