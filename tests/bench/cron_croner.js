// croner's cost (5000 instants per case, bench_cron uses 20000) on the cases bench_cron measured (read as TSV on stdin:
// expr, zone, parse_med, next_med, next_p99 in ns), same seeded instants,
// printed side by side with the ratio croner / takt.
"use strict";
const path = require("path");
const { Cron } = require(path.resolve(process.argv[2]));
const CALLS = 5000, PARSE_CALLS = 1000;

let xs = 2463534242;
function xorshift32() {
	let x = xs;
	x ^= x << 13; x >>>= 0;
	x ^= x >>> 17;
	x ^= x << 5; x >>>= 0;
	return (xs = x);
}
const pct = (a, p) => { a.sort((x, y) => x - y); return a[Math.floor(p * (a.length - 1))]; };
const ns = () => Number(process.hrtime.bigint());
const opts = (zone) => ({ paused: true, timezone: zone, legacyMode: true, sloppyRanges: true });

const rows = require("fs").readFileSync(0, "utf8").trim().split("\n").map((l) => l.split("\t"));
const overhead = (() => { const d = []; for (let i = 0; i < CALLS; i++) { const a = ns(); d.push(ns() - a); } return pct(d, 0.5); })();
console.log(`${"expression".padEnd(26)} ${"zone".padEnd(20)} ${"parse p50 takt/croner".padStart(24)} ${"next p50 takt/croner".padStart(24)} ${"next p99 takt/croner".padStart(24)}  ratio p50 (croner/takt)`);
for (const [expr, zone, tParse, tNext, tP99] of rows) {
	if (expr.startsWith("@every")) {
		console.log(`${expr.padEnd(26)} ${zone.padEnd(20)} (croner has no @every)`);
		continue;
	}
	const d = [];
	for (let i = 0; i < PARSE_CALLS; i++) { const a = ns(); new Cron(expr, opts(zone)); d.push(ns() - a - overhead); }
	const cParse = pct(d, 0.5);
	const job = new Cron(expr, opts(zone));
	xs = 2463534242;
	const at = [];
	for (let i = 0; i < CALLS; i++) at.push(new Date((1577836800 + (xorshift32() % 473040000)) * 1000));
	for (let i = 0; i < 1000; i++) job.nextRun(at[i]); // warm the JIT
	const n = [];
	for (let i = 0; i < CALLS; i++) { const a = ns(); job.nextRun(at[i]); n.push(ns() - a - overhead); }
	const c50 = pct(n, 0.5), c99 = pct(n, 0.99);
	const f = (a, b) => `${a} / ${b}`.padStart(24);
	console.log(`${expr.padEnd(26)} ${zone.padEnd(20)} ${f(tParse, cParse)} ${f(tNext, c50)} ${f(tP99, c99)}  x${(c50 / Math.max(1, tNext)).toFixed(0)}`);
}
