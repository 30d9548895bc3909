// Cross-check of pkg/cron against croner (the reference; version pinned in
// package-lock.json). Generates seeded random expressions x instants x zones,
// asks our engine through `kubectl-takt next --batch` (one process for all
// cases) and croner in-process, and compares the first 5 fire instants.
//
//   node croner_check.js <croner-module-dir> <kubectl-takt> [cases] [seed]
//
// Prints TAP. Every known class of difference is documented in docs/cron.md
// and excluded by name here, with a count, never silently.
"use strict";
const { spawnSync } = require("child_process");
const path = require("path");

const [cronerDir, bin] = process.argv.slice(2, 4);
const CASES = parseInt(process.argv[4] || "6000", 10);
const SEED = parseInt(process.argv[5] || "20261122", 10);
const { Cron } = require(path.resolve(cronerDir));

function mulberry32(a) {
	return function () {
		a |= 0;
		a = (a + 0x6d2b79f5) | 0;
		let t = Math.imul(a ^ (a >>> 15), 1 | a);
		t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
		return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
	};
}
const rnd = mulberry32(SEED);
const int = (lo, hi) => lo + Math.floor(rnd() * (hi - lo + 1));
const pick = (a) => a[Math.floor(rnd() * a.length)];
const chance = (p) => rnd() < p;

const MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"];
const DAYS = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];
function anyCase(s) {
	const r = rnd();
	if (r < 0.4) return s;
	if (r < 0.7) return s.toLowerCase();
	return s[0] + s.slice(1).toLowerCase();
}

// Field kinds: [min, max, step limit]
const F = {
	sec: [0, 59, 60],
	min: [0, 59, 60],
	hour: [0, 23, 24],
	dom: [1, 31, 31],
	month: [1, 12, 12],
	dow: [0, 7, 7],
};

function value(kind, v) {
	if (kind === "month" && chance(0.3)) return anyCase(MONTHS[v - 1]);
	if (kind === "dow" && v <= 6 && chance(0.3)) return anyCase(DAYS[v]);
	return String(v);
}

function element(kind) {
	const [lo, hi, smax] = F[kind];
	const r = rnd();
	// Small steps are the interesting ones; large ones are kept rare.
	const step = () => (chance(0.8) ? int(1, Math.min(smax, 15)) : int(1, smax));
	if (r < 0.35) return value(kind, int(lo, hi));
	if (r < 0.55) {
		const a = int(lo, hi), b = int(a, hi);
		return value(kind, a) + "-" + value(kind, b);
	}
	if (r < 0.7) return "*/" + step();
	if (r < 0.82) {
		const a = int(lo, hi), b = int(a, hi);
		return value(kind, a) + "-" + value(kind, b) + "/" + step();
	}
	if (r < 0.9) return value(kind, int(lo, hi)) + "/" + step();
	if (kind === "dom") {
		const s = rnd();
		if (s < 0.4) return "L";
		return int(1, 31) + pick(["W", "w"]);
	}
	if (kind === "dow") {
		const d = int(0, 7);
		const dv = d <= 6 && chance(0.3) ? anyCase(DAYS[d]) : String(d);
		return chance(0.6) ? dv + "#" + int(1, 5) : dv + pick(["L", "l"]);
	}
	return value(kind, int(lo, hi));
}

function field(kind) {
	const r = rnd();
	if (r < 0.3) return "*";
	if ((kind === "dom" || kind === "dow") && r < 0.4) return "?";
	if (kind === "dom" && r < 0.43) return pick(["LW", "lw"]);
	if (kind === "dom" && r < 0.44) return pick(["LW", "lw"]) + "," + int(1, 31);
	const n = chance(0.7) ? 1 : int(2, 3);
	const parts = [];
	for (let i = 0; i < n; i++) parts.push(element(kind));
	return parts.join(",");
}

// Fixed-time patterns (one value in sec, min, hour) are the ones whose DST
// handling differs, so a third of the cases use them.
function timeField(kind) {
	const [lo, hi] = F[kind];
	return String(int(lo, hi));
}

const MACROS = ["@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"];

function expression() {
	if (chance(0.03)) return anyCase(pick(MACROS));
	const fixed = chance(0.35);
	const six = chance(0.5);
	const f = [];
	if (six) f.push(fixed ? timeField("sec") : field("sec"));
	f.push(fixed ? timeField("min") : field("min"));
	f.push(fixed ? timeField("hour") : chance(0.5) ? field("hour") : timeField("hour"));
	// Sub-daily steps fire too often to reach a transition: bias day fields.
	f.push(field("dom"));
	f.push(field("month"));
	f.push(field("dow"));
	return f.join(" ");
}

const ZONES = [
	"UTC", "America/New_York", "Europe/Berlin", "Australia/Sydney", "Asia/Kathmandu",
	"Australia/Lord_Howe", "Pacific/Chatham", "America/Santiago", "America/St_Johns",
	"Europe/London", "Asia/Tehran", "America/Sao_Paulo", "Asia/Tokyo", "Africa/Cairo",
	"America/Havana", "Pacific/Apia", "Europe/Dublin", "Asia/Gaza",
];

// An instant, biased towards the weeks around DST transitions.
function instant() {
	const year = int(2000, 2040);
	let month = int(1, 12);
	if (chance(0.6)) month = pick([3, 4, 9, 10, 11]);
	const day = int(1, 28), h = int(0, 23), m = int(0, 59), s = chance(0.5) ? 0 : int(0, 59);
	return Math.floor(Date.UTC(year, month - 1, day, h, m, s) / 1000);
}

// Known classes of difference, each documented in docs/cron.md. A case in
// such a class is excluded and counted by class.
function excludedClass(expr, zone, from) {
	const t = expr.trim().toLowerCase();
	// Samoa skipped 2011-12-30 whole: a fixed-time pattern due that day
	// fires at the gap's end (00:00 on the 31st) here, as api.md says;
	// croner only moves a run within the same local day.
	if (zone === "Pacific/Apia" && from >= 1322697600 && from < 1325376000) return "day-long-gap";
	// croner refuses LW inside a list (ours: a list element like any other).
	const f = t.split(/\s+/);
	const dom = f.length === 6 ? f[3] : f[2];
	if (dom && dom.includes(",") && dom.split(",").includes("lw")) return "lw-in-list";
	// `a/n` with a = 7 in day-of-week: croner selects nothing, we select Sunday.
	const dow = f.length === 6 ? f[5] : f[4];
	if (dow && dow.split(",").some((e) => /^7\/\d+$/.test(e))) return "dow-7-slash-step";
	return null;
}

// The offset (minutes east) of a zone at a UTC instant, from the platform's
// ICU data: independent of both engines.
const fmtCache = {};
function offsetAt(zone, sec) {
	const f = (fmtCache[zone] ||= new Intl.DateTimeFormat("en-US", {
		timeZone: zone, hourCycle: "h23", year: "numeric", month: "numeric",
		day: "numeric", hour: "numeric", minute: "numeric", second: "numeric",
	}));
	const p = {};
	for (const x of f.formatToParts(new Date(sec * 1000))) p[x.type] = x.value;
	const local = Date.UTC(+p.year, +p.month - 1, +p.day, +p.hour, +p.minute, +p.second) / 1000;
	return Math.round((local - sec) / 60);
}
// UTC instants at which the zone's offset changes during a year.
const transCache = {};
function transitions(zone, year) {
	const key = zone + year;
	if (transCache[key]) return transCache[key];
	const out = [];
	let t = Date.UTC(year, 0, 1) / 1000, prev = offsetAt(zone, t);
	const end = Date.UTC(year + 1, 0, 1) / 1000;
	for (; t < end; t += 6 * 3600) {
		const o = offsetAt(zone, t + 6 * 3600);
		if (o === prev) continue;
		let lo = t, hi = t + 6 * 3600; // offset(lo) = prev, offset(hi) = o
		while (hi - lo > 1) {
			const mid = Math.floor((lo + hi) / 2);
			if (offsetAt(zone, mid) === prev) lo = mid;
			else hi = mid;
		}
		out.push(hi);
		prev = o;
	}
	return (transCache[key] = out);
}

const DST_ZONES = [
	"America/New_York", "Europe/Berlin", "Australia/Sydney", "Australia/Lord_Howe",
	"Pacific/Chatham", "America/Santiago", "America/St_Johns", "Europe/London",
	"America/Havana", "Asia/Gaza", "Europe/Dublin", "Africa/Cairo",
];

// Patterns whose time of day sits on the transitions: a single hour near
// the change (fixed-time) or small ranges and lists of hours (interval).
function dstExpression(localHour) {
	if (chance(0.04)) return "@hourly";
	const h = () => String((localHour + int(-1, 1) + 24) % 24);
	const six = chance(0.5);
	const f = [];
	const fixed = chance(0.5);
	if (six) f.push(fixed ? String(pick([0, 0, 30, int(0, 59)])) : pick(["*/20", "0,30", "*", String(int(0, 59))]));
	f.push(fixed ? String(pick([0, 30, 59, int(0, 59)])) : pick(["*/15", "0-59/20", "*", "0,30", "15-45"]));
	if (fixed) f.push(h());
	else {
		const a = (localHour + 22) % 24;
		f.push(pick(["*", `${Math.min(a, 21)}-${Math.min(a, 21) + 2}`, `${h()},${h()}`, "*/2", "1-3"]));
	}
	f.push(pick(["*", "*", "?", "L", "1-31/2", "8-14"]));
	f.push("*");
	f.push(pick(["*", "*", "?", "SUN", "0,6", "MON-FRI", "0#2"]));
	return f.join(" ");
}

// Invalid field values, per field, for the "both refuse" check.
const INVALID = {
	sec: ["60", "61", "*/0", "*/61", "5-1", "x", "1,,2", "L", "5W", "1-", "#1"],
	min: ["60", "99", "*/0", "*/61", "30-10", "a", "1,", "L", "5#1", "-5"],
	hour: ["24", "25", "*/0", "*/25", "20-3", "h", "L", "1W"],
	dom: ["0", "32", "*/0", "*/32", "20-10", "32W", "0W", "1#1", "x"],
	month: ["0", "13", "*/0", "*/13", "DEC-JAN", "JANUARY", "FOO", "L"],
	dow: ["8", "9", "*/0", "*/8", "FRI-MON", "MONDAY", "1#6", "1#0", "9L", "FOO"],
};
const ORDER = ["sec", "min", "hour", "dom", "month", "dow"];
function invalidExpression() {
	const f = ["0", "*", "*", "*", "*", "*"].map((x, i) => (chance(0.5) ? x : field(ORDER[i])));
	const k = int(0, 5);
	f[k] = pick(INVALID[ORDER[k]]);
	return f.join(" ");
}
const invalid = [];
for (let i = 0; i < Math.floor(CASES / 10); i++) invalid.push(invalidExpression());

const cases = [];
for (let i = 0; i < CASES; i++) {
	const expr = expression();
	cases.push({ expr, zone: pick(ZONES), from: instant() });
}
// Samoa's skipped day, explicitly (see excludedClass).
for (const expr of ["0 0 12 * * *", "0 30 9 * * *", "0 0 */6 * * *"])
	cases.push({ expr, zone: "Pacific/Apia", from: 1325073600 /* 2011-12-28T12:00Z */ });
// A third more cases aimed at DST transitions.
const DST_CASES = Math.floor(CASES / 3);
for (let i = 0; i < DST_CASES; i++) {
	const zone = pick(DST_ZONES);
	const tr = transitions(zone, int(2018, 2032));
	if (!tr.length) continue;
	const at = pick(tr);
	const localHour = Math.floor((((at + offsetAt(zone, at - 1) * 60) % 86400) + 86400) % 86400 / 3600);
	const from = at - int(0, 2 * 86400);
	cases.push({ expr: dstExpression(localHour), zone, from, dst: true });
}

// Ours, in one process.
const input = cases.map((c) => `${c.from}\t${c.zone}\t5\t${c.expr}`).join("\n") + "\n";
const res = spawnSync(bin, ["next", "--batch"], { input, maxBuffer: 1 << 28 });
if (res.status !== 0) {
	console.log("1..1");
	console.log(`not ok 1 - kubectl-takt next --batch exited ${res.status}: ${res.stderr}`);
	process.exit(1);
}
const ours = res.stdout.toString().split("\n");

let compared = 0, agreed = 0, bothRejected = 0, dstCompared = 0;
const excluded = {};
const diffs = [];
for (let i = 0; i < cases.length; i++) {
	const c = cases[i];
	const o = ours[i];
	let theirs;
	try {
		const job = new Cron(c.expr, {
			paused: true,
			timezone: c.zone,
			legacyMode: true,
			sloppyRanges: true,
		});
		theirs = job.nextRuns(5, new Date(c.from * 1000)).map((d) => String(d.getTime() / 1000)).join(" ");
	} catch (e) {
		theirs = "error: " + e.message;
	}
	const cls = excludedClass(c.expr, c.zone, c.from);
	if (cls) {
		const e = (excluded[cls] ||= { cases: 0, differ: 0 });
		e.cases++;
		if (o !== theirs) e.differ++;
		continue;
	}
	compared++;
	if (c.dst) dstCompared++;
	const ourErr = o.startsWith("error:");
	const theirErr = theirs.startsWith("error:");
	// Never-firing patterns: we refuse them at parse time, croner returns
	// no instant. Both mean "does not fire".
	const ourNone = ourErr && o.includes("can never fire");
	if ((ourErr && theirErr) || (ourNone && theirs === "")) {
		bothRejected++;
		agreed++;
		continue;
	}
	if (o === theirs) {
		agreed++;
		continue;
	}
	diffs.push({ ...c, ours: o, theirs });
}

// Both engines must refuse each invalid expression.
const invalidDiffs = [];
{
	const input = invalid.map((e) => `0\tUTC\t1\t${e}`).join("\n") + "\n";
	const r = spawnSync(bin, ["next", "--batch"], { input, maxBuffer: 1 << 26 });
	const lines = r.stdout.toString().split("\n");
	invalid.forEach((e, i) => {
		let theirs = "accepted";
		try {
			new Cron(e, { paused: true, legacyMode: true, sloppyRanges: true });
		} catch (x) {
			theirs = "refused";
		}
		const ours = lines[i].startsWith("error:") ? "refused" : "accepted";
		if (ours !== "refused" || theirs !== "refused") invalidDiffs.push({ e, ours, theirs, msg: lines[i] });
	});
}

const iso = (s) =>
	s.startsWith("error") || s === "" ? s || "(none)" : s.split(" ").map((x) => new Date(x * 1000).toISOString().replace(".000", "")).join(" ");
let n = 0;
console.log("1..3");
console.log(`# seed ${SEED}: ${cases.length} cases (${DST_CASES} aimed at DST transitions), ${compared} compared (${dstCompared} DST), ${agreed} agree (${bothRejected} refused or never firing in both), ${diffs.length} differ`);
for (const [k, v] of Object.entries(excluded))
	console.log(`# excluded (docs/cron.md, known difference "${k}"): ${v.cases} cases, of which ${v.differ} differ`);
for (const d of diffs.slice(0, 20)) {
	console.log(`# DIFF ${JSON.stringify(d.expr)} zone=${d.zone} from=${new Date(d.from * 1000).toISOString()}`);
	console.log(`#   ours:   ${iso(d.ours)}`);
	console.log(`#   croner: ${iso(d.theirs)}`);
}
const minCompared = Math.floor(cases.length * 0.9);
console.log(`${compared >= minCompared ? "ok" : "not ok"} ${++n} - at least ${minCompared} cases compared (${compared})`);
console.log(`${diffs.length === 0 ? "ok" : "not ok"} ${++n} - every first-5 fire list agrees with croner (${diffs.length} differ)`);
for (const d of invalidDiffs.slice(0, 20)) console.log(`# INVALID ${JSON.stringify(d.e)}: ours ${d.ours} (${d.msg}), croner ${d.theirs}`);
console.log(`${invalidDiffs.length === 0 ? "ok" : "not ok"} ${++n} - ${invalid.length} invalid expressions refused by both (${invalidDiffs.length} not)`);
process.exit(diffs.length === 0 && invalidDiffs.length === 0 && compared >= minCompared ? 0 : 1);
