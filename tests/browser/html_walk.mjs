#!/usr/bin/env node
// html_walk.mjs — load one page in Debian's headless Chromium and report, as JSON on
// stdout, which of its probe scripts ran (each calls r('name'), collected in
// window.ran) and every CSP violation the page raised. Used by
// tests/integration/test_html_browser.py to check that the scripts tomed's CSP
// hashes (html.c's walk) are exactly the ones Chromium runs.
//
// Usage: node html_walk.mjs <url> [--click SELECTOR]...
// Exit status: 0 the page loaded (the JSON says the rest), 2 bad usage or no browser.
import { chromium } from 'playwright-core';

const args = process.argv.slice(2);
const url = args[0];
if (!url) {
	console.error('usage: node html_walk.mjs <url>');
	process.exit(2);
}
const exe = process.env.CHROMIUM || '/usr/bin/chromium';
let browser;
try {
	browser = await chromium.launch({ executablePath: exe, args: ['--no-sandbox'] });
} catch (e) {
	console.error(`cannot start ${exe}: ${e.message}`);
	process.exit(2);
}
const out = { violations: [], console: [], pageErrors: [], ran: null };
try {
	const page = await browser.newPage();
	// Registered before any page script, and not subject to the page's CSP.
	await page.addInitScript(() => {
		window.__violations = [];
		document.addEventListener('securitypolicyviolation', (e) => {
			window.__violations.push({
				effectiveDirective: e.effectiveDirective,
				blockedURI: e.blockedURI,
				sample: e.sample,
				line: e.lineNumber,
			});
		});
	});
	page.on('console', (m) => out.console.push(`${m.type()}: ${m.text()}`));
	page.on('pageerror', (e) => out.pageErrors.push(String(e)));
	await page.goto(url, { waitUntil: 'load', timeout: 15000 });
	// module scripts and templates stamped by a script: give them a moment
	await page.waitForTimeout(300);
	out.ran = await page.evaluate(() => window.ran || null);
	out.violations = await page.evaluate(() => window.__violations);
} finally {
	await browser.close();
}
console.log(JSON.stringify(out));
