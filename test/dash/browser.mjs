// test/dash/browser.mjs — a headless Chromium that the dashboard's TAP tests
// (test/t/140_dash_browser.pl, through test/lib/DashLocal.pm) drive one
// command at a time.
//
//   node test/dash/browser.mjs        (reads commands on stdin)
//
// Protocol: one JSON object per line on stdin ({"cmd": ..., ...}), one JSON
// answer per line on stdout ({"ok": true, ...} or {"ok": false, "error":
// ...}), in order.  Rules: it drives Debian's /usr/bin/chromium through
// playwright-core and never downloads a browser; it only reads the page (the
// DOM the page built and the test hooks the page keeps: data-driver-number,
// data-position, data-date, dataset.series, dataset.updates, #db-status); it
// counts navigations of the main frame (a reload would show) and records
// every dialog (alert() = an XSS alarm), console error and page error.
import { chromium } from 'playwright-core';
import readline from 'node:readline';

let browser = null;
let page = null;
let navigations = 0;
const dialogs = [];
const errors = [];

function answer(obj) {
	process.stdout.write(JSON.stringify(obj) + '\n');
}

const commands = {
	async open({ url }) {
		browser = await chromium.launch({
			executablePath: '/usr/bin/chromium',
			headless: true,
			args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
		});
		page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
		page.on('framenavigated', (f) => { if (f === page.mainFrame()) navigations++; });
		page.on('dialog', async (d) => { dialogs.push(d.message()); await d.dismiss(); });
		page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
		page.on('pageerror', (e) => errors.push(String(e)));
		await page.goto(url, { waitUntil: 'load' });
		return {};
	},

	// the timing tower's rows, in the page's order
	async tower() {
		const rows = await page.$$eval('#tower tr.tower-row', (trs) => trs.map((tr) => ({
			driver_number: tr.dataset.driverNumber,
			position: tr.dataset.position,
			text: tr.textContent.replace(/\s+/g, ' ').trim(),
			acronym: (tr.querySelector('.driver') || tr).textContent.replace(/\s+/g, ' ').trim(),
		})));
		return { rows };
	},

	async series() {
		return await page.evaluate(() => ({
			positions: Number(document.getElementById('positions-chart')?.dataset.series ?? -1),
			speed_trap: Number(document.getElementById('speed-trap-chart')?.dataset.series ?? -1),
		}));
	},

	async updates() {
		return { updates: await page.evaluate(() => Number(document.body.dataset.updates || 0)) };
	},

	// waits (in the page, on every DOM change) until an element matching
	// selector has exactly that text; elapsed_ms is measured in node
	async wait_text({ selector, text, timeout_ms }) {
		const t0 = Date.now();
		try {
			await page.waitForFunction(([sel, want]) => {
				for (const el of document.querySelectorAll(sel))
					if (el.textContent.includes(want)) return true;
				return false;
			}, [selector, text], { timeout: timeout_ms, polling: 20 });
			return { found: true, elapsed_ms: Date.now() - t0 };
		} catch (e) {
			// only a timeout is "not found"; anything else is the test's bug
			if (e.name !== 'TimeoutError') throw e;
			return { found: false, elapsed_ms: Date.now() - t0 };
		}
	},

	// the race control list: each item's data-date, its text, and whether
	// any element (an <img>, say) was made from a message
	async race_control() {
		return {
			items: await page.$$eval('#race-control li', (lis) => lis.map((li) => ({
				date: li.dataset.date,
				text: li.textContent.replace(/\s+/g, ' ').trim(),
				imgs: li.querySelectorAll('img, script, iframe').length,
			}))),
			imgs_in_page: await page.evaluate(() => document.querySelectorAll('#race-control img').length),
		};
	},

	async db_status() {
		return await page.evaluate(() => {
			const el = document.getElementById('db-status');
			if (!el) return { exists: false, visible: false, text: '' };
			const st = getComputedStyle(el);
			const visible = !el.hidden && st.display !== 'none' && st.visibility !== 'hidden' &&
				el.getClientRects().length > 0;
			return { exists: true, visible, text: el.textContent.trim(), cls: el.className };
		});
	},

	// waits until #db-status is (or is not) visible
	async wait_db_status({ visible, timeout_ms }) {
		const t0 = Date.now();
		try {
			await page.waitForFunction((want) => {
				const el = document.getElementById('db-status');
				const vis = !!el && !el.hidden && getComputedStyle(el).display !== 'none' &&
					el.getClientRects().length > 0;
				return vis === want;
			}, visible, { timeout: timeout_ms, polling: 100 });
			return { reached: true, elapsed_ms: Date.now() - t0 };
		} catch (e) {
			if (e.name !== 'TimeoutError') throw e;
			return { reached: false, elapsed_ms: Date.now() - t0 };
		}
	},

	async count({ selector }) {
		return { count: await page.locator(selector).count() };
	},

	async screenshot({ path }) {
		await page.screenshot({ path });
		return {};
	},

	async state() {
		return { navigations, dialogs, errors };
	},

	// at most 10 s: a browser.close() that never settles (seen once, the
	// chromium already gone) must not hang the test; exit kills what is left
	async close() {
		if (browser) {
			const b = browser;
			browser = null;
			const closed = await Promise.race([b.close().then(() => true, () => true),
				new Promise((r) => setTimeout(() => r(false), 10000))]);
			return { closed };
		}
		return { closed: true };
	},
};

const rl = readline.createInterface({ input: process.stdin });
let queue = Promise.resolve();
rl.on('line', (line) => {
	queue = queue.then(async () => {
		let msg;
		try {
			msg = JSON.parse(line);
			const fn = commands[msg.cmd];
			if (!fn) throw new Error(`unknown command ${msg.cmd}`);
			answer({ ok: true, ...(await fn(msg)) });
			// the answer is written (stdout is synchronous on a pipe): exit,
			// not waiting for an EOF on stdin that a server started by the
			// test after us may hold open (it inherits the test's pipe)
			if (msg.cmd === 'close') process.exit(0);
		} catch (e) {
			answer({ ok: false, error: String(e && e.message || e) });
		}
	});
});
rl.on('close', () => {
	// stdin closed: close the browser and exit, whatever is still pending
	setTimeout(() => process.exit(0), 15000).unref();
	queue.then(() => commands.close()).finally(() => process.exit(0));
});
