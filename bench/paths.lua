-- wrk script of ./bench/run.sh:
--   wrk ... -s bench/paths.lua URL -- <prefix> <unique|hot|json|html|serve> [<target>]
-- unique: GET <prefix>obj-<thread>-<n>, a new path on every request;
-- hot:    GET <prefix>hot/object.bin, the same path every time;
-- json, html: GET <prefix>list/, the listing of a folder, with Accept
--         application/json or text/html;
-- serve:  GET <target>, the path and query given as a third argument (a
--         file, or a signed link to it), every time.
-- Every answer not of the mode's status (a 3xx; 200 for listings and
-- serve) is
-- counted; done() prints
--   BENCH requests=<n> bad=<n> errors=<n>
-- for the driver, which voids a run with any such answer.

local threads = {}

function setup(thread)
	thread:set("id", #threads + 1)
	table.insert(threads, thread)
end

function init(args)
	prefix = args[1] or "/dl/"
	mode = args[2] or "unique"
	n = 0
	bad = 0
	hot = wrk.format("GET", prefix .. "hot/object.bin")
	base = prefix .. "obj-" .. id .. "-"
	if mode == "json" then
		fixed = wrk.format("GET", prefix .. "list/", { Accept = "application/json" })
	elseif mode == "html" then
		fixed = wrk.format("GET", prefix .. "list/", { Accept = "text/html" })
	elseif mode == "serve" then
		fixed = wrk.format("GET", args[3])
	end
end

function request()
	if fixed then
		return fixed
	end
	if mode == "hot" then
		return hot
	end
	n = n + 1
	return wrk.format("GET", base .. n)
end

function response(status, headers, body)
	if fixed then
		if status ~= 200 then
			bad = bad + 1
		end
	elseif status < 300 or status > 399 then
		bad = bad + 1
	end
end

function done(summary, latency, requests)
	local total = 0
	for _, t in ipairs(threads) do
		total = total + t:get("bad")
	end
	io.write(string.format("BENCH requests=%d bad=%d errors=%d\n", summary.requests, total,
		summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
