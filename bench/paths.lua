-- wrk script of ./bench/run.sh:
--   wrk ... -s bench/paths.lua URL -- <prefix> <unique|hot>
-- unique: GET <prefix>obj-<thread>-<n>, a new path on every request;
-- hot:    GET <prefix>hot/object.bin, the same path every time.
-- Every answer that is not a 3xx is counted; done() prints
--   BENCH requests=<n> non3xx=<n>
-- for the driver, which voids a run with any non-3xx answer.

local threads = {}

function setup(thread)
	thread:set("id", #threads + 1)
	table.insert(threads, thread)
end

function init(args)
	prefix = args[1] or "/dl/"
	mode = args[2] or "unique"
	n = 0
	non3xx = 0
	hot = wrk.format("GET", prefix .. "hot/object.bin")
	base = prefix .. "obj-" .. id .. "-"
end

function request()
	if mode == "hot" then
		return hot
	end
	n = n + 1
	return wrk.format("GET", base .. n)
end

function response(status, headers, body)
	if status < 300 or status > 399 then
		non3xx = non3xx + 1
	end
end

function done(summary, latency, requests)
	local bad = 0
	for _, t in ipairs(threads) do
		bad = bad + t:get("non3xx")
	end
	io.write(string.format("BENCH requests=%d non3xx=%d errors=%d\n", summary.requests, bad,
		summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
