#!/usr/bin/env node
// check.mjs — prove in Debian's headless Chromium that a SvelteKit adapter-static site
// served by tomed works: it starts (hydrates), client-side navigation through every nav
// link works, direct loads of nested pages work, the clicker works, and nothing went
// wrong on the way (console errors, page errors, failed requests, HTTP >= 400, CSP
// violations). Prints one JSON summary on stdout; exit 0 only when everything passed
// and no problem at all was recorded.
//
// Usage: node check.mjs <start-url> [options]        (see README.md, or --help)
//
// Exit status: 0 passed, 1 failed (the summary says why), 2 bad usage or no browser.
//
// Needs playwright-core (npm ci --prefix tests/browser; it never downloads a browser)
// and Debian's chromium (apt-get install -y chromium).
import { chromium } from 'playwright-core';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync, mkdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const USAGE = `usage: node check.mjs <start-url> [options]

  --expect-base PATH        every page URL (and every same-origin request) must stay
                            under PATH, e.g. /tomeclicker (or / for the root)
  --link TEXT               click the nav link with this text (repeatable, in order);
                            default: every link matched by --nav, ending with the one
                            that points at the start page
  --nav CSS                 nav links to discover (default "nav a[href]")
  --direct PATH             load PATH (relative to the start URL) directly, check it
                            hydrates, then navigate back to the start page with the nav
                            (repeatable; default "docs/guide"; "none" for no direct load)
  --clicker CSS             button that must increment the counter (default "#click")
  --counter CSS             counter element (default "#count")
  --no-clicker              do not require a clicker
  --report-csp-hashes       per page, report the CSP header's hashes, the SHA-256 of each
                            inline <script>/<style>, and the hashes Chromium reports for
                            the inline code it blocked
  --pause-after-load-ms N   after the first load, keep the page open N ms before navigating
  --ready-file PATH         after the first load, write PATH (JSON) ...
  --wait-for-file PATH      ... then wait until PATH exists before navigating on
  --wait-timeout MS         longest wait for --wait-for-file (default 60000)
  --timeout MS              per-step timeout (default 10000)
  --chromium PATH           browser binary (default $CHROMIUM or /usr/bin/chromium)
  --ignore SUBSTRING        drop problems whose JSON contains SUBSTRING (repeatable)
  --screenshot PATH         full-page PNG of the last page
  -h, --help                this text`;

// ------------------------------------------------------------------------ options
function parseArgs(argv) {
	const o = {
		url: null,
		expectBase: null,
		links: [],
		nav: 'nav a[href]',
		direct: [],
		directGiven: false,
		clicker: '#click',
		counter: '#count',
		requireClicker: true,
		reportCspHashes: false,
		pauseMs: 0,
		readyFile: null,
		waitForFile: null,
		waitTimeout: 60000,
		timeout: 10000,
		chromium: process.env.CHROMIUM || '/usr/bin/chromium',
		ignore: [],
		screenshot: null
	};
	const val = (i, name) => {
		if (i + 1 >= argv.length) throw new Error(`${name} needs a value`);
		return argv[i + 1];
	};
	const num = (s, name) => {
		const n = Number(s);
		if (!Number.isFinite(n) || n < 0) throw new Error(`${name} needs a number of milliseconds`);
		return n;
	};
	for (let i = 0; i < argv.length; i++) {
		const a = argv[i];
		switch (a) {
			case '--expect-base': o.expectBase = val(i, a); i++; break;
			case '--link': o.links.push(val(i, a)); i++; break;
			case '--nav': o.nav = val(i, a); i++; break;
			case '--direct': o.directGiven = true; if (val(i, a) !== 'none') o.direct.push(argv[i + 1]); i++; break;
			case '--clicker': o.clicker = val(i, a); i++; break;
			case '--counter': o.counter = val(i, a); i++; break;
			case '--no-clicker': o.requireClicker = false; break;
			case '--report-csp-hashes': o.reportCspHashes = true; break;
			case '--pause-after-load-ms': o.pauseMs = num(val(i, a), a); i++; break;
			case '--ready-file': o.readyFile = val(i, a); i++; break;
			case '--wait-for-file': o.waitForFile = val(i, a); i++; break;
			case '--wait-timeout': o.waitTimeout = num(val(i, a), a); i++; break;
			case '--timeout': o.timeout = num(val(i, a), a); i++; break;
			case '--chromium': o.chromium = val(i, a); i++; break;
			case '--ignore': o.ignore.push(val(i, a)); i++; break;
			case '--screenshot': o.screenshot = val(i, a); i++; break;
			case '-h': case '--help': console.log(USAGE); process.exit(0);
			default:
				if (a.startsWith('-')) throw new Error(`unknown option ${a}`);
				if (o.url) throw new Error(`unexpected argument ${a}`);
				o.url = a;
		}
	}
	if (!o.url) throw new Error('missing start URL');
	const u = new URL(o.url); // throws on a malformed URL
	if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('start URL must be http(s)');
	if (!o.directGiven) o.direct = ['docs/guide'];
	if (o.expectBase !== null) {
		if (!o.expectBase.startsWith('/')) throw new Error('--expect-base must start with /');
		o.expectBase = o.expectBase.replace(/\/+$/, '');
	}
	if (o.timeout === 0) throw new Error('--timeout must be positive');
	return o;
}

let opts;
try {
	opts = parseArgs(process.argv.slice(2));
} catch (e) {
	console.error(`check.mjs: ${e.message}\n${USAGE}`);
	process.exit(2);
}
if (!existsSync(opts.chromium)) {
	console.error(`check.mjs: no browser at ${opts.chromium}: apt-get install -y chromium (or pass --chromium)`);
	process.exit(2);
}

// ------------------------------------------------------------------------ summary
const pwVersion = JSON.parse(readFileSync(join(dirname(fileURLToPath(import.meta.resolve('playwright-core'))), 'package.json'), 'utf8')).version;
const summary = {
	ok: false,
	startUrl: opts.url,
	expectBase: opts.expectBase,
	finalUrl: null,
	browser: null,
	playwrightCore: pwVersion,
	durationMs: 0,
	launchMs: null,
	sveltekit: null, // the start-up script's {base, assets}, and SvelteKit's update check
	manifest: null, // the web manifest as Chromium parsed it, and what was checked
	steps: [], // one per load / click / direct load, in order
	clicks: [], // clicker checks
	counts: {}, // number of each kind of problem
	errors: [], // every problem, as {kind, step, ...}
	consoleErrors: [],
	consoleWarnings: [], // recorded, not counted as problems
	pageErrors: [],
	failedRequests: [],
	httpErrors: [],
	cspViolations: [], // securitypolicyviolation events
	cspConsole: [], // console messages about Content Security Policy
	cspHashes: undefined // with --report-csp-hashes
};
if (opts.reportCspHashes) summary.cspHashes = [];

const t0 = Date.now();
let stepName = 'start';
let step = null; // the current step record

function addError(kind, detail, list) {
	const e = { kind, step: stepName, ...detail };
	const text = JSON.stringify(e);
	if (opts.ignore.some((s) => text.includes(s))) return null;
	summary.errors.push(e);
	if (list) list.push(e);
	if (step) step.problems++;
	return e;
}

const firstLine = (s) => String(s ?? '').split('\n')[0];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const startOrigin = new URL(opts.url).origin;

function underBase(pathname) {
	if (opts.expectBase === null || opts.expectBase === '') return true;
	return pathname === opts.expectBase || pathname.startsWith(opts.expectBase + '/');
}

function checkUnderBase(url, what) {
	if (opts.expectBase === null) return;
	const u = new URL(url);
	if (u.origin !== startOrigin || !underBase(u.pathname)) {
		addError('base', { message: `${what} ${url} is not under ${opts.expectBase || '/'}` });
	}
}

// ------------------------------------------------------------------------ browser
const userDataDir = mkdtempSync(join(tmpdir(), 'tomed-browser-check-'));
const ARGS = [
	'--headless',
	'--no-sandbox',
	'--disable-gpu',
	'--disable-quic',
	'--no-first-run',
	'--disable-background-networking', // else Chromium tries to reach Google hosts
	'--disable-component-update',
	'--disable-sync'
	// --user-data-dir=<fresh temp dir>: passed by launchPersistentContext
];

let context = null;
let finished = false;
const budgetMs = opts.timeout * 30 + opts.pauseMs + (opts.waitForFile ? opts.waitTimeout : 0) + 30000;
const watchdog = setTimeout(() => {
	addError('timeout', { message: `the whole check took longer than ${budgetMs} ms` });
	finish(1);
}, budgetMs);

async function finish(code) {
	if (finished) return;
	finished = true;
	clearTimeout(watchdog);
	endStep();
	stepName = 'finish';
	try { if (context) await context.close(); } catch { /* already gone */ }
	try { rmSync(userDataDir, { recursive: true, force: true }); } catch { /* best effort */ }
	summary.durationMs = Date.now() - t0;
	summary.counts = {
		errors: summary.errors.length,
		consoleErrors: summary.consoleErrors.length,
		pageErrors: summary.pageErrors.length,
		failedRequests: summary.failedRequests.length,
		httpErrors: summary.httpErrors.length,
		cspViolations: summary.cspViolations.length,
		cspConsole: summary.cspConsole.length
	};
	summary.ok = code === 0 && summary.errors.length === 0;
	process.stdout.write(JSON.stringify(summary, null, 2) + '\n', () => process.exit(summary.ok ? 0 : 1));
}

let stepStart = 0;
function endStep() {
	if (step && step.ms === null) step.ms = Date.now() - stepStart;
}

// Requests in flight, to wait for the network to go quiet.
const inflight = new Set();
let lastActivity = Date.now();
async function waitForQuiet(quietMs = 200, timeout = opts.timeout) {
	const end = Date.now() + timeout;
	while (Date.now() < end) {
		if (inflight.size === 0 && Date.now() - lastActivity >= quietMs) return true;
		await sleep(25);
	}
	return false;
}

const sha256b64 = (text) => createHash('sha256').update(text, 'utf8').digest('base64');

function cspHashesOf(policy) {
	const out = {};
	for (const dir of (policy || '').split(';')) {
		const [name, ...vals] = dir.trim().split(/\s+/);
		if (!name) continue;
		const hashes = vals.filter((v) => /^'sha(256|384|512)-/.test(v)).map((v) => v.slice(1, -1));
		if (hashes.length) out[name.toLowerCase()] = hashes;
	}
	return out;
}

async function main() {
	context = await chromium.launchPersistentContext(userDataDir, {
		executablePath: opts.chromium,
		headless: true,
		args: ARGS,
		viewport: { width: 1280, height: 800 },
		timeout: opts.timeout * 3
	});
	summary.launchMs = Date.now() - t0;
	summary.browser = context.browser()?.version() ?? null;
	for (const p of context.pages().slice(1)) await p.close();
	const page = context.pages()[0] ?? (await context.newPage());
	page.setDefaultTimeout(opts.timeout);
	if (!summary.browser) {
		// launchPersistentContext gives no Browser object; ask the page.
		summary.browser = await page.evaluate(() => navigator.userAgent.match(/(?:Headless)?Chrome\/[\d.]+/)?.[0] ?? null).catch(() => null);
	}

	// ---- recorders ------------------------------------------------------------------
	page.on('request', (req) => {
		inflight.add(req);
		lastActivity = Date.now();
		if (step) step.requests++;
		if (req.isNavigationRequest() && req.frame() === page.mainFrame() && step) step.documentRequests++;
		const u = new URL(req.url());
		if (opts.expectBase !== null && u.origin === startOrigin && !underBase(u.pathname)) {
			addError('base', { message: `request outside ${opts.expectBase || '/'}: ${req.url()}` });
		}
	});
	const done = (req) => { inflight.delete(req); lastActivity = Date.now(); };
	page.on('requestfinished', done);
	page.on('requestfailed', (req) => {
		done(req);
		addError('requestfailed', {
			url: req.url(), method: req.method(), resourceType: req.resourceType(),
			failure: req.failure()?.errorText ?? 'unknown'
		}, summary.failedRequests);
	});
	page.on('response', async (res) => {
		const req = res.request();
		const u = new URL(res.url());
		if (step && u.origin === startOrigin) step.responses.push(`${res.status()} ${u.pathname}${u.search}`);
		if (res.status() >= 400) {
			addError('http', { url: res.url(), status: res.status(), resourceType: req.resourceType() }, summary.httpErrors);
		}
		if (opts.reportCspHashes && req.isNavigationRequest() && req.frame() === page.mainFrame()) {
			// Chromium reports the headers of a revalidated (304) page as the 304 carried
			// them; when the policy is missing there, ask the server again.
			const rec = { url: res.url(), status: res.status(), step: stepName, policy: null, policySource: 'response', policyHashes: {}, inline: null, chromiumBlocked: [] };
			summary.cspHashes.push(rec);
			rec.policy = (await res.allHeaders().catch(() => ({})))['content-security-policy'] ?? null;
			if (rec.policy === null) {
				rec.policySource = 'refetched';
				rec.policy = (await context.request.get(res.url(), { timeout: opts.timeout }).then((r) => r.headers()['content-security-policy']).catch(() => null)) ?? null;
			}
			rec.policyHashes = cspHashesOf(rec.policy);
		}
	});
	page.on('console', (msg) => {
		const text = msg.text();
		const loc = msg.location();
		if (/Content[- ]Security[- ]Policy/i.test(text)) {
			addError('csp-console', { type: msg.type(), text, url: loc?.url || undefined }, summary.cspConsole);
			if (opts.reportCspHashes) {
				const m = text.match(/a hash \('(sha(?:256|384|512)-[A-Za-z0-9+/=]+)'\)/);
				const rec = summary.cspHashes.at(-1);
				if (m && rec) {
					const what = firstLine(text).split(' violates')[0];
					const kind = /inline script|script/i.test(what) ? 'script' : /style/i.test(what) ? 'style' : 'other';
					const directive = text.match(/directive '(.*?)'\. /)?.[1] ?? null;
					rec.chromiumBlocked.push({ kind, hash: m[1], what, directive });
				}
			}
			return; // counted once, as CSP
		}
		if (msg.type() === 'error') addError('console', { text, url: loc?.url || undefined }, summary.consoleErrors);
		else if (msg.type() === 'warning') summary.consoleWarnings.push({ step: stepName, text, url: loc?.url || undefined });
	});
	page.on('pageerror', (err) => {
		addError('pageerror', { message: String(err?.message ?? err), stack: err?.stack?.split('\n').slice(0, 4).join('\n') }, summary.pageErrors);
	});
	// CSP violations as the page sees them. The binding and the init script survive
	// full page loads, and the init script runs before any of the page's own code.
	await context.exposeBinding('__tomedCheckCsp', (_src, v) => {
		addError('csp', { source: 'securitypolicyviolation', ...v }, summary.cspViolations);
	});
	await context.addInitScript(() => {
		document.addEventListener('securitypolicyviolation', (ev) => {
			window.__tomedCheckCsp?.({
				violatedDirective: ev.violatedDirective,
				effectiveDirective: ev.effectiveDirective,
				blockedURI: ev.blockedURI,
				sample: ev.sample || undefined,
				documentURI: ev.documentURI,
				sourceFile: ev.sourceFile || undefined,
				lineNumber: ev.lineNumber || undefined,
				disposition: ev.disposition
			});
		}, true);
	});

	// ---- helpers ---------------------------------------------------------------------
	function newStep(name, extra = {}) {
		endStep();
		stepName = name;
		stepStart = Date.now();
		step = { step: name, ms: null, url: null, navigation: null, hydrated: null, title: null, heading: null, text: null, requests: 0, documentRequests: 0, problems: 0, responses: [], ...extra };
		summary.steps.push(step);
		return step;
	}

	// SvelteKit 2's start() writes 'sveltekit:history' into history.state, hydrates,
	// then runs the router's set-up, which sets history.scrollRestoration = 'manual'.
	// Both together mean: hydrated and the client-side router is listening.
	// If the document has loaded and the inline start-up script never ran (no
	// __sveltekit_* global: blocked by CSP, say), it never will: give up at once.
	async function waitForHydration() {
		try {
			const state = await page.waitForFunction(() => {
				if (history.state != null && 'sveltekit:history' in history.state && history.scrollRestoration === 'manual') return 'hydrated';
				if (document.readyState === 'complete' && !Object.keys(globalThis).some((k) => k.startsWith('__sveltekit_'))) return 'no-start-up-script';
				return false;
			}, null, { timeout: opts.timeout, polling: 50 });
			return await state.jsonValue();
		} catch {
			return 'timeout';
		}
	}
	const hydrationProblem = (why) => why === 'no-start-up-script'
		? `SvelteKit's inline start-up script did not run on ${page.url()} (no __sveltekit_* global)`
		: `SvelteKit did not start on ${page.url()} within ${opts.timeout} ms (no 'sveltekit:history' in history.state, or history.scrollRestoration not 'manual')`;
	let hydrated = false; // the current document's SvelteKit started

	async function pageInfo() {
		return page.evaluate(() => ({
			title: document.title,
			heading: (document.querySelector('main h1') ?? document.querySelector('h1'))?.textContent?.trim() ?? null,
			text: (document.querySelector('main') ?? document.body)?.innerText?.trim().replace(/\s+/g, ' ').slice(0, 300) ?? null
		})).catch(() => ({}));
	}

	const plantMarker = () => page.evaluate(() => (window.__tomedCheckMarker = Math.random())).catch(() => null);
	const readMarker = () => page.evaluate(() => window.__tomedCheckMarker ?? null).catch(() => null);

	async function recordInline() {
		if (!opts.reportCspHashes) return;
		const rec = summary.cspHashes.at(-1);
		if (!rec || rec.inline) return;
		const items = await page.evaluate(() => [
			...[...document.querySelectorAll('script:not([src])')].map((e) => ({ kind: 'script', text: e.textContent })),
			...[...document.querySelectorAll('style')].map((e) => ({ kind: 'style', text: e.textContent }))
		]).catch(() => []);
		// The directive that governs each kind of inline element (CSP3 fallback order).
		const ph = rec.policyHashes;
		const governing = (kind) => ph[`${kind}-src-elem`] ?? ph[`${kind}-src`] ?? ph['default-src'] ?? [];
		rec.inline = items.map(({ kind, text }) => {
			const hash = `sha256-${sha256b64(text)}`;
			return { kind, hash, bytes: Buffer.byteLength(text), inPolicy: governing(kind).includes(hash) };
		});
	}

	async function checkClicker() {
		const btn = page.locator(opts.clicker).first();
		if ((await btn.count()) === 0) return;
		const prev = stepName;
		stepName = `${prev}:clicker`;
		const rec = { step: prev, url: page.url(), before: null, after: null, ok: false };
		summary.clicks.push(rec);
		try {
			const counter = page.locator(opts.counter).first();
			if ((await counter.count()) === 0) throw new Error(`clicker found but no counter matches ${opts.counter}`);
			rec.before = (await counter.textContent())?.trim() ?? null;
			await btn.click();
			await page.waitForFunction(({ sel, before }) => (document.querySelector(sel)?.textContent ?? '').trim() !== before,
				{ sel: opts.counter, before: rec.before }, { timeout: Math.min(opts.timeout, hydrated ? 5000 : 1000), polling: 50 }).catch(() => {});
			rec.after = (await counter.textContent())?.trim() ?? null;
			const b = Number(rec.before), a = Number(rec.after);
			rec.ok = Number.isFinite(b) && Number.isFinite(a) ? a === b + 1 : rec.after !== rec.before;
			if (!rec.ok) addError('clicker', { message: `counter went from ${JSON.stringify(rec.before)} to ${JSON.stringify(rec.after)} after one click` });
		} catch (e) {
			addError('clicker', { message: firstLine(e.message) });
		}
		stepName = prev;
	}

	// The inline start-up script sets globalThis.__sveltekit_<hash> = {base, assets}.
	// Under --expect-base both must be that base ("" for /), and SvelteKit's update check
	// (it fetches `${assets}/_app/version.json` when a navigation fails) must find the file.
	async function checkSvelteKit(s) {
		const kit = await page.evaluate(() => {
			const k = Object.keys(globalThis).find((n) => n.startsWith('__sveltekit_'));
			return k ? { global: k, base: globalThis[k]?.base ?? null, assets: globalThis[k]?.assets ?? null } : null;
		}).catch(() => null);
		s.kit = kit;
		if (!kit) { addError('sveltekit', { message: `no __sveltekit_* start-up global on ${page.url()}` }); return; }
		if (opts.expectBase !== null) {
			for (const key of ['base', 'assets']) {
				const v = kit[key];
				if (typeof v === 'string' && /^[a-z][a-z0-9+.-]*:/i.test(v)) continue; // an absolute assets URL (CDN)
				if (v !== opts.expectBase) addError('sveltekit', { message: `SvelteKit ${key} is ${JSON.stringify(v)} on ${page.url()}, expected ${JSON.stringify(opts.expectBase)}` });
			}
		}
		if (!summary.sveltekit) {
			const url = new URL(`${kit.assets ?? kit.base ?? ''}/_app/version.json`, page.url()).href;
			let status = null;
			try { status = (await context.request.get(url, { timeout: opts.timeout })).status(); } catch (e) { status = firstLine(e.message); }
			summary.sveltekit = { ...kit, versionUrl: url, versionStatus: status };
			if (status !== 200) addError('sveltekit', { message: `SvelteKit's update check would fetch ${url}: ${status}` });
		}
	}

	// The web manifest, as Chromium resolves it (CDP Page.getAppManifest): no parse
	// errors, start_url inside scope and answering 200, the start page inside scope, icons 200.
	async function checkManifest() {
		const href = await page.evaluate(() => document.querySelector('link[rel~="manifest"]')?.href ?? null).catch(() => null);
		if (!href) return;
		const prev = stepName;
		stepName = 'manifest';
		const m = summary.manifest = { url: href, startUrl: null, scope: null, startUrlStatus: null, icons: [], chromiumErrors: [] };
		try {
			const cdp = await context.newCDPSession(page);
			const r = await cdp.send('Page.getAppManifest');
			await cdp.detach().catch(() => {});
			m.chromiumErrors = (r.errors ?? []).map((e) => e.message);
			for (const msg of m.chromiumErrors) addError('manifest', { message: `Chromium: ${msg}`, url: href });
			const parsed = r.manifest ?? {};
			m.startUrl = parsed.startUrl ?? null;
			m.scope = parsed.scope ?? r.parsed?.scope ?? null;
			const inScope = (u) => m.scope && new URL(u).origin === new URL(m.scope).origin && new URL(u).pathname.startsWith(new URL(m.scope).pathname);
			if (m.startUrl && m.scope && !inScope(m.startUrl)) addError('manifest', { message: `start_url ${m.startUrl} is outside scope ${m.scope}` });
			if (m.scope && !inScope(opts.url)) addError('manifest', { message: `the site (${opts.url}) is outside the manifest's scope ${m.scope}` });
			const get = async (u) => { try { return (await context.request.get(u, { timeout: opts.timeout })).status(); } catch (e) { return firstLine(e.message); } };
			if (m.startUrl) {
				m.startUrlStatus = await get(m.startUrl);
				if (m.startUrlStatus !== 200) addError('manifest', { message: `start_url ${m.startUrl}: ${m.startUrlStatus}` });
				if (opts.expectBase !== null) checkUnderBase(m.startUrl, 'manifest start_url');
			}
			for (const icon of parsed.icons ?? []) {
				const status = await get(icon.url);
				m.icons.push({ url: icon.url, status });
				if (status !== 200) addError('manifest', { message: `icon ${icon.url}: ${status}` });
			}
		} catch (e) {
			addError('manifest', { message: firstLine(e.message) });
		}
		stepName = prev;
	}

	async function fullLoad(name, url) {
		const s = newStep(name, { navigation: 'full-load' });
		try {
			const resp = await page.goto(url, { waitUntil: 'load', timeout: opts.timeout });
			s.status = resp?.status() ?? null;
			if (!resp) addError('load', { message: `no response for ${url}` });
		} catch (e) {
			addError('load', { message: firstLine(e.message) });
		}
		const why = await waitForHydration();
		s.hydrated = hydrated = why === 'hydrated';
		if (!hydrated) addError('hydration', { message: hydrationProblem(why) });
		await waitForQuiet();
		s.url = page.url();
		checkUnderBase(s.url, 'page');
		Object.assign(s, await pageInfo());
		if (!s.heading) addError('content', { message: `no heading on ${s.url}` });
		await recordInline();
		await checkSvelteKit(s);
		if (!summary.manifest) await checkManifest();
		await checkClicker();
		return s;
	}

	async function navLinks() {
		return page.locator(opts.nav).evaluateAll((els) => els.map((a) => ({ text: a.textContent.trim(), href: a.href })));
	}

	const sameDoc = (a, b) => { const x = new URL(a), y = new URL(b); x.hash = y.hash = ''; return x.href === y.href; };

	async function clickLink(text) {
		const from = page.url();
		const before = await pageInfo();
		const s = newStep(`click:${text}`, { from });
		try {
			const links = await navLinks();
			const target = links.find((l) => l.text === text);
			if (!target) throw new Error(`no link ${JSON.stringify(text)} matching ${JSON.stringify(opts.nav)} on ${from}`);
			s.href = target.href;
			const marker = await plantMarker();
			const loc = page.locator(opts.nav).filter({ hasText: new RegExp(`^\\s*${text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\s*$`) }).first();
			await loc.click();
			if (!sameDoc(target.href, from)) {
				await page.waitForURL((u) => !sameDoc(u.href, from), { timeout: opts.timeout }).catch(() => {
					throw new Error(`URL did not change after clicking ${JSON.stringify(text)} (still ${from})`);
				});
			}
			// The URL changes once the route's code is loaded; wait for the new page to render.
			await page.waitForFunction((b) => document.title !== b.title
				|| ((document.querySelector('main h1') ?? document.querySelector('h1'))?.textContent?.trim() ?? null) !== b.heading,
				before, { timeout: opts.timeout, polling: 50 }).catch(() => {});
			await waitForQuiet();
			s.url = page.url();
			const still = await readMarker();
			s.navigation = still !== null && still === marker && s.documentRequests === 0 ? 'client' : 'full-load';
			if (s.navigation !== 'client') {
				const why = await waitForHydration();
				s.hydrated = hydrated = why === 'hydrated';
				if (!hydrated) addError('hydration', { message: hydrationProblem(why) });
				addError('navigation', { message: `clicking ${JSON.stringify(text)} caused a full page load, expected client-side navigation`, to: s.url });
			}
			if (!sameDoc(s.url, target.href)) addError('navigation', { message: `clicking ${JSON.stringify(text)} led to ${s.url}, expected ${target.href}` });
			checkUnderBase(s.url, 'page');
			Object.assign(s, await pageInfo());
			if (!sameDoc(target.href, from) && s.title === before.title && s.heading === before.heading) {
				addError('content', { message: `page did not change after clicking ${JSON.stringify(text)} (title ${JSON.stringify(s.title)})` });
			}
			if (s.navigation === 'full-load') await recordInline();
		} catch (e) {
			addError('click', { message: firstLine(e.message) });
			s.url = page.url();
		}
		await checkClicker();
	}

	// ---- 1. first load --------------------------------------------------------------
	await fullLoad('load', opts.url);

	// ---- 1b. keep the page open while someone changes the site -----------------------
	if (opts.pauseMs || opts.readyFile || opts.waitForFile) {
		const s = newStep('pause', { navigation: null });
		const marker = await plantMarker();
		if (opts.readyFile) {
			mkdirSync(dirname(resolve(opts.readyFile)), { recursive: true });
			writeFileSync(opts.readyFile, JSON.stringify({ url: page.url(), pid: process.pid }) + '\n');
		}
		if (opts.pauseMs) await sleep(opts.pauseMs);
		if (opts.waitForFile) {
			const end = Date.now() + opts.waitTimeout;
			while (!existsSync(opts.waitForFile) && Date.now() < end) await sleep(50);
			if (!existsSync(opts.waitForFile)) addError('wait', { message: `${opts.waitForFile} did not appear within ${opts.waitTimeout} ms` });
		}
		await waitForQuiet();
		s.url = page.url();
		if ((await readMarker()) !== marker) addError('navigation', { message: 'the page was reloaded while paused' });
	}

	// ---- 2. every nav link in turn ----------------------------------------------------
	let order = opts.links;
	if (!order.length) {
		const links = await navLinks().catch(() => []);
		if (!links.length) addError('navigation', { message: `no nav links match ${JSON.stringify(opts.nav)} on ${page.url()}` });
		const here = links.findIndex((l) => sameDoc(l.href, page.url()));
		// Start after the current page and end on it, so every click changes the URL.
		order = (here >= 0 ? [...links.slice(here + 1), ...links.slice(0, here + 1)] : links).map((l) => l.text);
	}
	for (const text of order) await clickLink(text);

	// ---- 3. direct loads of (nested) pages, then back to the start with the nav ------------
	for (const rel of opts.direct) {
		await fullLoad(`direct:${rel}`, new URL(rel, opts.url).href);
		const home = (await navLinks().catch(() => [])).find((l) => sameDoc(l.href, opts.url));
		if (home && !sameDoc(page.url(), opts.url)) await clickLink(home.text);
	}

	if (opts.requireClicker && !summary.clicks.length) {
		stepName = 'clicker';
		addError('clicker', { message: `no page had a clicker matching ${JSON.stringify(opts.clicker)}` });
	}

	// ---- 4. screenshot -------------------------------------------------------------
	endStep();
	summary.finalUrl = page.url();
	if (opts.screenshot) {
		stepName = 'screenshot';
		try {
			mkdirSync(dirname(resolve(opts.screenshot)), { recursive: true });
			await page.screenshot({ path: resolve(opts.screenshot), fullPage: true });
		} catch (e) {
			addError('screenshot', { message: firstLine(e.message) });
		}
	}
	step = null;
}

main().then(
	() => finish(0),
	(e) => {
		addError('fatal', { message: firstLine(e?.message ?? e) });
		finish(1);
	}
);
