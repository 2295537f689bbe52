/*
 * src/tools/dash/web/app.js — the live timing page of f1tel-dash.  It loads
 * /api/state?session=S once, then follows /api/events?session=S (Server-Sent
 * Events, one event per part: session, tower, race_control, positions,
 * fastest_laps, speed_trap, track, weather, db) and re-renders only the panel
 * of the part that came.  It never reloads the page.
 *
 * Rules a reader must know:
 * - SAFETY: every text from the data (messages, names, teams, sessions) goes
 *   into the page through textContent, createTextNode or setAttribute; never
 *   innerHTML / insertAdjacentHTML / document.write.  A team colour is used in
 *   a style only after teamColour() checked it is 6 hex digits.
 * - The ids, classes and data- attributes written here are test hooks
 *   (DASH_CONTRACT.md, "The page"): tr.tower-row[data-driver-number]
 *   [data-position], li[data-date][data-flag], #positions-chart and
 *   #speed-trap-chart .dataset.series, circle.car[data-driver-number],
 *   #db-status (hidden / .error "database unavailable"), and
 *   document.body.dataset.updates (the count of events applied).
 * - The part shapes are the server's (src/tools/dash_queries.c); a missing
 *   value is null, and an empty part shows a muted "no data yet".
 * - Plain modern JS, no build step; uPlot (window.uPlot) is the one library.
 */
'use strict';

(() => {
	const NEUTRAL = '#8a8f98';
	const PARTS = ['session', 'tower', 'race_control', 'positions', 'fastest_laps',
		'speed_trap', 'track', 'weather', 'db'];
	const SERVER_DOWN_MS = 3000;
	const SVG_NS = 'http://www.w3.org/2000/svg';

	const $ = (id) => document.getElementById(id);

	/* the session this page shows: ?session=K or latest */
	function pageSession() {
		const s = new URLSearchParams(location.search).get('session');
		return s && /^(latest|[1-9][0-9]{0,9})$/.test(s) ? s : 'latest';
	}
	const SESSION = pageSession();

	/* ---------- small helpers (all of them text-only) ---------- */

	function teamColour(c) {
		return typeof c === 'string' && /^[0-9A-Fa-f]{6}$/.test(c) ? '#' + c : NEUTRAL;
	}

	function el(tag, cls, text) {
		const e = document.createElement(tag);
		if (cls) e.className = cls;
		if (text !== undefined && text !== null) e.textContent = String(text);
		return e;
	}

	function isNum(v) {
		return typeof v === 'number' && Number.isFinite(v);
	}

	/* 95.614 -> "1:35.614"; 58.2 -> "58.200" */
	function lapTime(s) {
		if (!isNum(s)) return '';
		const ms = Math.round(s * 1000);
		const m = Math.floor(ms / 60000);
		const rest = ((ms % 60000) / 1000).toFixed(3);
		return m > 0 ? m + ':' + rest.padStart(6, '0') : rest;
	}

	function secs(s) {
		return isNum(s) ? s.toFixed(3) : '';
	}

	/* a gap or an interval: "+12.345", "+1 LAP", "+2 LAPS" */
	function gapText(seconds, laps) {
		if (isNum(laps) && laps > 0) return '+' + laps + (laps === 1 ? ' LAP' : ' LAPS');
		if (isNum(seconds)) return '+' + seconds.toFixed(3);
		return null;
	}

	/* "2023-11-19T07:42:03+00:00" -> "07:42:03" (UTC, as the data is) */
	function clock(iso) {
		if (typeof iso !== 'string') return '';
		const m = /T(\d\d:\d\d:\d\d)/.exec(iso);
		return m ? m[1] : '';
	}

	function setEmpty(panel, empty) {
		panel.classList.toggle('is-empty', !!empty);
	}

	function panelOf(node) {
		return node.closest('.panel');
	}

	/* the colour bar + acronym of a driver cell; the cell's text is the acronym alone */
	function fillDriver(td, acronym, colour, title) {
		td.replaceChildren();
		const bar = el('span', 'team-bar');
		bar.style.backgroundColor = teamColour(colour);
		td.append(bar, el('span', 'acr', acronym || '?'));
		if (title) td.setAttribute('title', title);
		else td.removeAttribute('title');
	}

	/* ---------- header: session ---------- */

	let currentSession = null;

	function renderSession(s) {
		currentSession = s && s.session_key != null ? s : null;
		const name = $('session-name');
		const meta = $('session-meta');
		if (!currentSession) {
			name.textContent = 'no data yet';
			meta.textContent = SESSION === 'latest' ? 'waiting for a session' : 'session ' + SESSION;
			document.title = 'f1tel — live timing';
			return;
		}
		const title = [s.meeting_name, s.session_name].filter(Boolean).join(' · ')
			|| 'session ' + s.session_key;
		name.textContent = title;
		meta.textContent = [s.circuit_short_name, s.country_name, s.year,
			'session ' + s.session_key].filter((v) => v !== null && v !== undefined && v !== '').join(' · ');
		document.title = title + ' — f1tel';
		if (!pickerKeys.has(String(s.session_key))) loadSessions();
	}

	/* ---------- session picker ---------- */

	const pickerKeys = new Set();
	let sessionsLoading = false;

	function sessionLabel(s) {
		const parts = [s.year, s.meeting_name || s.circuit_short_name || s.country_name,
			s.session_name].filter((v) => v !== null && v !== undefined && v !== '');
		return (parts.length ? parts.join(' ') + ' ' : '') + '(' + s.session_key + ')';
	}

	async function loadSessions() {
		if (sessionsLoading) return;
		sessionsLoading = true;
		try {
			const r = await fetch('/api/sessions', { cache: 'no-store' });
			if (!r.ok) return;
			const j = await r.json();
			const list = Array.isArray(j.sessions) ? j.sessions : [];
			const sel = $('session-picker');
			sel.replaceChildren();
			pickerKeys.clear();
			const latest = el('option', null, j.latest != null ? 'latest (' + j.latest + ')' : 'latest');
			latest.value = 'latest';
			sel.append(latest);
			for (const s of list) {
				if (s.session_key == null) continue;
				const o = el('option', null, sessionLabel(s));
				o.value = String(s.session_key);
				pickerKeys.add(o.value);
				sel.append(o);
			}
			if (SESSION !== 'latest' && !pickerKeys.has(SESSION)) {
				const o = el('option', null, 'session ' + SESSION);
				o.value = SESSION;
				sel.append(o);
			}
			sel.value = SESSION;
		} catch (e) {
			console.warn('f1tel-dash: sessions', e);
		} finally {
			sessionsLoading = false;
		}
	}

	$('session-picker').addEventListener('change', (ev) => {
		const v = ev.target.value;
		if (/^(latest|[0-9]+)$/.test(v) && v !== SESSION) {
			location.search = '?session=' + encodeURIComponent(v);
		}
	});

	/* ---------- timing tower ---------- */

	const towerRows = new Map();   /* driver_number -> tr */
	const TOWER_CELLS = ['pos', 'driver', 'gap', 'interval', 'last', 'best', 's1', 's2', 's3',
		'tyre', 'pits'];
	const COMPOUNDS = {
		SOFT: 'S', MEDIUM: 'M', HARD: 'H', INTERMEDIATE: 'I', WET: 'W',
		HYPERSOFT: 'S', ULTRASOFT: 'S', SUPERSOFT: 'S',
	};

	function towerRow(dn) {
		let tr = towerRows.get(dn);
		if (!tr) {
			tr = el('tr', 'tower-row');
			tr.dataset.driverNumber = String(dn);
			for (const c of TOWER_CELLS) tr.append(el('td', c));
			towerRows.set(dn, tr);
		}
		return tr;
	}

	function setCell(td, text, extra) {
		const t = text === null || text === undefined ? '' : String(text);
		if (td.textContent !== t) td.textContent = t;
		if (extra !== undefined) td.className = extra;
	}

	function sectorClass(base, flag) {
		if (flag === 'overall_best') return base + ' purple';
		if (flag === 'personal_best') return base + ' green';
		return base;
	}

	function renderTyre(td, compound, age) {
		td.replaceChildren();
		const key = typeof compound === 'string' ? compound.toUpperCase() : '';
		const letter = COMPOUNDS[key];
		if (!letter && !isNum(age)) return;
		const badge = el('span', 'compound compound-' + (letter || 'X'), letter || '?');
		badge.setAttribute('title', compound ? String(compound) : 'unknown compound');
		td.append(badge);
		if (isNum(age)) td.append(el('span', 'tyre-age', age));
	}

	function renderTower(rows) {
		const list = Array.isArray(rows) ? rows : [];
		const panel = panelOf($('tower'));
		setEmpty(panel, list.length === 0);
		const tbody = $('tower').tBodies[0];
		const seen = new Set();
		let lastLap = null;
		list.forEach((r, i) => {
			const dn = r.driver_number;
			if (dn === null || dn === undefined || seen.has(dn)) return;
			seen.add(dn);
			const tr = towerRow(dn);
			const c = tr.cells;
			const pos = isNum(r.position) ? r.position : null;
			const prev = tr.dataset.position;
			tr.dataset.position = pos === null ? '' : String(pos);
			if (prev && pos !== null && Number(prev) !== pos) {
				tr.classList.remove('gained', 'lost');
				void tr.offsetWidth;       /* restart the flash animation */
				tr.classList.add(pos < Number(prev) ? 'gained' : 'lost');
			}
			setCell(c[0], pos === null ? '' : pos);
			fillDriver(c[1], r.name_acronym, r.team_colour,
				[r.full_name, r.team_name].filter(Boolean).join(' — '));
			const leader = i === 0 && pos === 1;
			const gap = gapText(r.gap_to_leader, r.gap_to_leader_laps);
			const intv = gapText(r.interval, r.interval_laps);
			setCell(c[2], leader ? 'LEADER' : (gap ?? '—'), leader || gap === null ? 'gap muted' : 'gap');
			setCell(c[3], leader ? '' : (intv ?? '—'), intv === null ? 'interval muted' : 'interval');
			setCell(c[4], lapTime(r.last_lap_duration));
			const bestIsLast = isNum(r.best_lap_number) && r.best_lap_number === r.last_lap_number;
			c[4].className = bestIsLast ? 'last green' : 'last';
			setCell(c[5], lapTime(r.best_lap_duration));
			setCell(c[6], secs(r.sector_1), sectorClass('s1', r.sector_1_flag));
			setCell(c[7], secs(r.sector_2), sectorClass('s2', r.sector_2_flag));
			setCell(c[8], secs(r.sector_3), sectorClass('s3', r.sector_3_flag));
			renderTyre(c[9], r.compound, r.tyre_age);
			setCell(c[10], isNum(r.pit_stops) ? r.pit_stops : '');
			if (isNum(r.last_lap_number) && (lastLap === null || r.last_lap_number > lastLap)) {
				lastLap = r.last_lap_number;
			}
			tbody.append(tr);           /* appending in order moves the row into place */
		});
		for (const [dn, tr] of towerRows) {
			if (!seen.has(dn)) {
				tr.remove();
				towerRows.delete(dn);
			}
		}
		/* the fastest lap of the session is purple in the tower too */
		let best = null;
		for (const r of list) {
			if (isNum(r.best_lap_duration) && (best === null || r.best_lap_duration < best)) best = r.best_lap_duration;
		}
		for (const r of list) {
			const tr = towerRows.get(r.driver_number);
			if (tr) tr.cells[5].className = best !== null && r.best_lap_duration === best ? 'best purple' : 'best';
		}
		const lc = $('lap-counter');
		if (lastLap !== null) {
			lc.hidden = false;
			lc.replaceChildren(el('span', 'muted', 'LAP '), document.createTextNode(String(lastLap)));
		} else {
			lc.hidden = true;
		}
	}

	/* ---------- race control ---------- */

	const FLAG_CLASS = {
		GREEN: 'green', CLEAR: 'green', YELLOW: 'yellow', 'DOUBLE YELLOW': 'double-yellow',
		RED: 'red', BLUE: 'blue', CHEQUERED: 'chequered', 'BLACK AND WHITE': 'black-white',
		BLACK: 'black', 'BLACK AND ORANGE': 'black-orange',
	};

	function renderRaceControl(items) {
		const list = Array.isArray(items) ? items : [];
		const ol = $('race-control');
		setEmpty(panelOf(ol), list.length === 0);
		const frag = document.createDocumentFragment();
		for (const m of list) {
			const li = el('li');
			li.dataset.date = typeof m.date === 'string' ? m.date : '';
			const flag = typeof m.flag === 'string' ? m.flag : '';
			li.dataset.flag = flag;
			const chip = el('span', 'flag-chip');
			if (flag) {
				chip.classList.add('flag-' + (FLAG_CLASS[flag.toUpperCase()] || 'other'));
				chip.setAttribute('title', flag);
			} else {
				const cat = typeof m.category === 'string' ? m.category : '';
				chip.classList.add('cat-' + (cat === 'SafetyCar' ? 'sc' : cat === 'Drs' ? 'drs' : 'none'));
				if (cat) chip.setAttribute('title', cat);
			}
			const when = el('span', 'rc-when');
			when.append(el('span', 'rc-time', clock(m.date)));
			if (isNum(m.lap_number)) when.append(el('span', 'rc-lap', 'L' + m.lap_number));
			const msg = el('span', 'rc-msg', m.message ?? '');
			li.append(chip, when, msg);
			frag.append(li);
		}
		ol.replaceChildren(frag);
	}

	/* ---------- fastest laps ---------- */

	function renderFastest(rows) {
		const list = Array.isArray(rows) ? rows : [];
		const table = $('fastest-laps');
		setEmpty(panelOf(table), list.length === 0);
		const frag = document.createDocumentFragment();
		for (const r of list) {
			const tr = el('tr');
			tr.dataset.driverNumber = String(r.driver_number);
			const drv = el('td', 'driver');
			fillDriver(drv, r.name_acronym, r.team_colour, null);
			tr.append(el('td', 'rank', r.rank ?? ''), drv, el('td', 'lap', r.lap_number ?? ''),
				el('td', r.rank === 1 ? 'time purple' : 'time', lapTime(r.lap_duration)),
				el('td', 'gap', isNum(r.gap_to_fastest) && r.gap_to_fastest > 0 ? '+' + r.gap_to_fastest.toFixed(3) : ''),
				el('td', 'speed', r.st_speed ?? ''));
			frag.append(tr);
		}
		table.tBodies[0].replaceChildren(frag);
	}

	/* ---------- weather ---------- */

	function renderWeather(w) {
		const box = $('weather');
		if (!w || typeof w !== 'object') {
			box.replaceChildren(el('p', 'empty-inline', 'no data yet'));
			return;
		}
		const item = (label, value, unit, cls) => {
			const d = el('div', 'wx' + (cls ? ' ' + cls : ''));
			const v = el('span', 'wx-value', value === null || value === undefined || value === '' ? '—' : value);
			if (unit && value !== null && value !== undefined && value !== '') v.append(el('span', 'wx-unit', unit));
			d.append(el('span', 'wx-label', label), v);
			return d;
		};
		const num = (v, digits) => (isNum(v) ? v.toFixed(digits) : null);
		const wind = item('Wind', num(w.wind_speed, 1), ' m/s', 'wx-wind');
		if (isNum(w.wind_direction)) {
			const arrow = el('span', 'wind-arrow', '↑');
			/* the direction the wind blows from: the arrow points where it goes */
			arrow.style.transform = 'rotate(' + ((w.wind_direction + 180) % 360) + 'deg)';
			arrow.setAttribute('title', 'from ' + w.wind_direction + '°');
			wind.querySelector('.wx-value').append(arrow);
		}
		const rain = isNum(w.rainfall) ? (w.rainfall > 0 ? 'RAIN' : 'DRY') : null;
		box.replaceChildren(
			item('Air', num(w.air_temperature, 1), ' °C'),
			item('Track', num(w.track_temperature, 1), ' °C'),
			item('Humidity', num(w.humidity, 0), ' %'),
			wind,
			item('Rain', rain, '', rain === 'RAIN' ? 'wx-rain' : ''),
			item('Pressure', num(w.pressure, 0), ' hPa'),
		);
		box.append(el('div', 'wx-date muted', w.date ? 'at ' + clock(w.date) + ' UTC' : ''));
	}

	/* ---------- charts (uPlot) ---------- */

	/* one chart per container; recreated when the set of series changes */
	const charts = {};

	/* x = every lap number; one y array per driver, aligned on x */
	function seriesData(drivers) {
		const laps = new Set();
		for (const d of drivers) for (const p of d.laps || []) if (isNum(p[0])) laps.add(p[0]);
		const xs = [...laps].sort((a, b) => a - b);
		const idx = new Map(xs.map((x, i) => [x, i]));
		const ys = drivers.map((d) => {
			const y = new Array(xs.length).fill(null);
			for (const p of d.laps || []) {
				const i = idx.get(p[0]);
				if (i !== undefined) y[i] = isNum(p[1]) ? p[1] : null;
			}
			return y;
		});
		return [xs, ...ys];
	}

	/* a team's second driver gets a dashed line, as TV graphics do */
	function seriesStyles(drivers) {
		const used = new Set();
		return drivers.map((d) => {
			const colour = teamColour(d.team_colour);
			const dash = used.has(colour) ? [5, 3] : undefined;
			used.add(colour);
			return { label: d.name_acronym || String(d.driver_number), stroke: colour, dash };
		});
	}

	/* end-of-line acronyms, drawn on the canvas (canvas text is never HTML) */
	function endLabels(u) {
		const ctx = u.ctx;
		const ratio = window.devicePixelRatio || 1;
		ctx.save();
		ctx.font = Math.round(10 * ratio) + 'px system-ui, sans-serif';
		ctx.textBaseline = 'middle';
		const placed = [];
		for (let i = 1; i < u.series.length; i++) {
			const ys = u.data[i];
			let j = ys.length - 1;
			while (j >= 0 && ys[j] == null) j--;
			if (j < 0) continue;
			const x = u.valToPos(u.data[0][j], 'x', true);
			let y = u.valToPos(ys[j], 'y', true);
			while (placed.some((p) => Math.abs(p - y) < 9 * ratio)) y += 9 * ratio;
			placed.push(y);
			ctx.fillStyle = u.series[i].stroke();
			ctx.fillText(u.series[i].label, x + 4 * ratio, y);
		}
		ctx.restore();
	}

	function chartSize(box) {
		const w = Math.max(200, Math.floor(box.clientWidth || 400));
		const h = Math.max(120, Math.floor(box.clientHeight || 250));
		return { width: w, height: h };
	}

	const AXIS = {
		stroke: '#9aa3b2',
		grid: { stroke: 'rgba(255,255,255,0.07)', width: 1 },
		ticks: { stroke: 'rgba(255,255,255,0.15)', width: 1, size: 4 },
		font: '11px system-ui, sans-serif',
	};

	function readoutHooks(readoutId, fmt) {
		let focused = null;
		const show = (u) => {
			const r = $(readoutId);
			const i = u.cursor.idx;
			if (i == null || focused == null || !u.series[focused]) {
				r.textContent = i == null ? '' : 'lap ' + u.data[0][i];
				return;
			}
			const v = u.data[focused][i];
			r.textContent = 'lap ' + u.data[0][i] + ' · ' + u.series[focused].label
				+ (v == null ? '' : ' ' + fmt(v));
		};
		return {
			setSeries: [(u, i, opts) => { if (opts && opts.focus) { focused = i; show(u); } }],
			setCursor: [(u) => show(u)],
		};
	}

	function chartOptions(kind, size, styles, rowsCount) {
		const series = [{ label: 'lap' }].concat(styles.map((s) => ({
			label: s.label, stroke: s.stroke, dash: s.dash, width: 1.6,
			points: { show: false }, spanGaps: false,
		})));
		const opts = {
			...size,
			legend: { show: false },
			cursor: { points: { size: 6 }, focus: { prox: 24 }, drag: { x: false, y: false } },
			focus: { alpha: 0.25 },
			scales: { x: { time: false } },
			series,
			axes: [
				{ ...AXIS, incrs: [1, 2, 5, 10, 20, 50], values: (u, v) => v.map((x) => String(x)) },
				{ ...AXIS, size: 40 },
			],
		};
		if (kind === 'positions') {
			const n = Math.max(20, rowsCount);
			opts.scales.y = { range: [0.5, n + 0.5], dir: -1 };
			opts.axes[1] = {
				...AXIS, size: 28,
				splits: () => Array.from({ length: n }, (_, i) => i + 1),
				values: (u, v) => v.map((p) => 'P' + p),
				font: '10px system-ui, sans-serif',
			};
			opts.padding = [6, 40, 0, 0];
			opts.hooks = { draw: [endLabels], ...readoutHooks('positions-readout', (v) => 'P' + v) };
		} else {
			opts.padding = [6, 10, 0, 0];
			opts.hooks = readoutHooks('speed-trap-readout', (v) => v + ' km/h');
		}
		return opts;
	}

	function renderChart(kind, boxId, drivers) {
		const list = (Array.isArray(drivers) ? drivers : []).filter((d) => d && d.driver_number != null);
		const box = $(boxId);
		box.dataset.series = String(list.length);
		const panel = panelOf(box);
		const hasPoints = list.some((d) => (d.laps || []).some((p) => isNum(p[1])));
		setEmpty(panel, !hasPoints);
		const old = charts[boxId];
		if (!hasPoints) {
			if (old) { old.u.destroy(); delete charts[boxId]; }
			return;
		}
		const styles = seriesStyles(list);
		const key = list.map((d, i) => d.driver_number + '/' + styles[i].stroke + '/' + styles[i].label).join(',');
		const data = seriesData(list);
		if (old && old.key === key) {
			old.u.setData(data);
			return;
		}
		if (old) old.u.destroy();
		const u = new uPlot(chartOptions(kind, chartSize(box), styles, list.length), data, box);
		charts[boxId] = { u, key };
	}

	const resizer = new ResizeObserver((entries) => {
		for (const e of entries) {
			const c = charts[e.target.id];
			if (c) {
				const s = chartSize(e.target);
				if (s.width !== c.u.width || s.height !== c.u.height) c.u.setSize(s);
			}
		}
	});
	resizer.observe($('positions-chart'));
	resizer.observe($('speed-trap-chart'));

	/* ---------- track map (inline SVG) ---------- */

	const track = { key: '', map: null };

	/* fit the points in a 1000-wide box, y flipped (the data's y grows north) */
	function trackMapping(points) {
		let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
		for (const [x, y] of points) {
			if (x < x0) x0 = x;
			if (x > x1) x1 = x;
			if (y < y0) y0 = y;
			if (y > y1) y1 = y;
		}
		const span = Math.max(x1 - x0, y1 - y0, 1);
		const s = 1000 / span;
		const pad = 40;
		const w = (x1 - x0) * s + 2 * pad;
		const h = (y1 - y0) * s + 2 * pad;
		return {
			viewBox: '0 0 ' + w.toFixed(0) + ' ' + h.toFixed(0),
			px: (x) => pad + (x - x0) * s,
			py: (y) => pad + (y1 - y) * s,
		};
	}

	function svg(tag, attrs) {
		const e = document.createElementNS(SVG_NS, tag);
		for (const k in attrs) e.setAttribute(k, String(attrs[k]));
		return e;
	}

	function renderTrack(t) {
		const map = $('track-map');
		const outline = (t && Array.isArray(t.outline) ? t.outline : [])
			.filter((p) => Array.isArray(p) && isNum(p[0]) && isNum(p[1]));
		const cars = (t && Array.isArray(t.cars) ? t.cars : [])
			.filter((c) => c && isNum(c.x) && isNum(c.y) && c.driver_number != null);
		setEmpty(panelOf(map), outline.length === 0 && cars.length === 0);
		const key = outline.length + ':' + (outline[0] || '') + ':' + (outline[outline.length - 1] || '');
		if (key !== track.key || (!track.map && cars.length)) {
			track.key = key;
			const basis = outline.length >= 10 ? outline : outline.concat(cars.map((c) => [c.x, c.y]));
			track.map = basis.length ? trackMapping(basis) : null;
			if (track.map) {
				map.setAttribute('viewBox', track.map.viewBox);
				const pts = outline.map(([x, y]) => track.map.px(x).toFixed(1) + ',' + track.map.py(y).toFixed(1));
				if (pts.length > 2) pts.push(pts[0]);  /* a closed lap */
				const pstr = pts.join(' ');
				map.querySelector('.outline').setAttribute('points', pstr);
				map.querySelector('.outline-under').setAttribute('points', pstr);
				const start = map.querySelector('.start-line');
				start.replaceChildren();
				if (outline.length > 1) {
					start.append(svg('circle', {
						cx: track.map.px(outline[0][0]).toFixed(1), cy: track.map.py(outline[0][1]).toFixed(1),
						r: 4, class: 'start-mark',
					}));
				}
			}
		}
		const g = map.querySelector('.cars');
		if (!track.map) { g.replaceChildren(); return; }
		const have = new Map();
		for (const node of g.querySelectorAll('g.car-g')) have.set(node.dataset.driverNumber, node);
		const keep = new Set();
		for (const c of cars) {
			const dn = String(c.driver_number);
			keep.add(dn);
			let node = have.get(dn);
			const fresh = !node;
			if (fresh) {
				node = svg('g', { class: 'car-g' });
				node.dataset.driverNumber = dn;
				const circle = svg('circle', { class: 'car', cx: 0, cy: 0, r: 6 });
				circle.setAttribute('data-driver-number', dn);
				const label = svg('text', { class: 'car-label' });
				node.append(circle, label);
			}
			const x = track.map.px(c.x), y = track.map.py(c.y);
			node.dataset.x = x.toFixed(1);
			node.dataset.y = y.toFixed(1);
			/* the group moves (a CSS transition animates it); the circle keeps the data's x/y */
			node.style.transform = 'translate(' + x.toFixed(1) + 'px, ' + y.toFixed(1) + 'px)';
			const circle = node.querySelector('circle');
			circle.setAttribute('data-x', String(c.x));
			circle.setAttribute('data-y', String(c.y));
			circle.setAttribute('fill', teamColour(c.team_colour));
			node.querySelector('text').textContent = c.name_acronym || dn;
			if (fresh) {
				g.append(node);
				requestAnimationFrame(() => node.classList.add('moving'));
			}
		}
		for (const [dn, node] of have) if (!keep.has(dn)) node.remove();
		layoutTrack();
	}

	/*
	 * Sizes on the map are in CSS pixels whatever the circuit's extent: --k is
	 * the SVG units per pixel (app.css multiplies by it).  Labels sit right of
	 * their car, moved down (up near the bottom edge) while they would cover
	 * one already placed.
	 */
	function layoutTrack() {
		const map = $('track-map');
		const vb = map.viewBox.baseVal;
		const w = map.clientWidth, h = map.clientHeight;
		if (!vb || !vb.width || !w || !h) return;
		const k = Math.max(vb.width / w, vb.height / h);
		map.style.setProperty('--k', k.toFixed(4));
		const placed = [];
		const nodes = [...map.querySelectorAll('g.car-g')];
		const xy = (n) => [Number(n.dataset.x), Number(n.dataset.y)];
		nodes.sort((a, b) => xy(a)[1] - xy(b)[1]);
		const taken = (lx, ly) => placed.some(([px, py]) => Math.abs(px - lx) < 30 * k && Math.abs(py - ly) < 12 * k);
		for (const n of nodes) {
			const [cx, cy] = xy(n);
			const lx = cx + 9 * k;
			let ly = cy + 4 * k;
			while (taken(lx, ly) && ly < vb.height) ly += 12 * k;
			if (ly > vb.height - 2 * k) {
				ly = cy + 4 * k;
				while (taken(lx, ly) && ly > 0) ly -= 12 * k;
			}
			placed.push([lx, ly]);
			const t = n.querySelector('text');
			t.setAttribute('x', (lx - cx).toFixed(1));
			t.setAttribute('y', (ly - cy).toFixed(1));
		}
	}
	new ResizeObserver(layoutTrack).observe($('track-map'));

	/* ---------- database / server status ---------- */

	const status = { dbDown: false, dbText: '', serverDown: false };

	function renderStatus() {
		const box = $('db-status');
		if (status.dbDown) {
			box.textContent = 'database unavailable' + (status.dbText ? ' — ' + status.dbText : '')
				+ ' · retrying; the page recovers by itself';
		} else if (status.serverDown) {
			box.textContent = 'dashboard server unavailable · reconnecting';
		}
		const show = status.dbDown || status.serverDown;
		if (!show) box.textContent = '';
		box.hidden = !show;
		box.classList.toggle('error', show);
		const live = $('live');
		live.classList.toggle('on', streamOpen && !status.dbDown);
	}

	function renderDb(d) {
		if (d && d.ok === true) {
			status.dbDown = false;
			status.serverDown = false;
		} else {
			status.dbDown = true;
			status.dbText = d && typeof d.error === 'string' && d.error !== 'database unavailable' ? d.error : '';
		}
		renderStatus();
	}

	/* ---------- applying parts ---------- */

	const RENDER = {
		session: renderSession,
		tower: renderTower,
		race_control: renderRaceControl,
		positions: (p) => renderChart('positions', 'positions-chart', p),
		fastest_laps: renderFastest,
		speed_trap: (p) => renderChart('speed', 'speed-trap-chart', p),
		track: renderTrack,
		weather: renderWeather,
		db: renderDb,
	};

	function apply(part, value) {
		try {
			RENDER[part](value);
		} catch (e) {
			console.error('f1tel-dash: rendering ' + part, e);
		}
	}

	function applyState(state) {
		for (const part of PARTS) {
			if (part in state) apply(part, state[part]);
		}
	}

	/* ---------- live: /api/events ---------- */

	let source = null;
	let streamOpen = false;
	let downTimer = null;
	let updates = 0;

	function streamDown() {
		streamOpen = false;
		if (!downTimer) {
			downTimer = setTimeout(() => {
				downTimer = null;
				if (!streamOpen) {
					status.serverDown = true;
					renderStatus();
				}
			}, SERVER_DOWN_MS);
		}
		renderStatus();
	}

	function follow() {
		const es = new EventSource('/api/events?session=' + encodeURIComponent(SESSION));
		source = es;
		es.onopen = () => {
			streamOpen = true;
			if (downTimer) { clearTimeout(downTimer); downTimer = null; }
			status.serverDown = false;
			renderStatus();
		};
		es.onerror = () => {
			streamDown();
			/* a refused or failed response closes an EventSource for good: open a new one */
			if (es.readyState === EventSource.CLOSED && source === es) {
				setTimeout(() => { if (source === es) follow(); }, 1000);
			}
		};
		for (const part of PARTS) {
			es.addEventListener(part, (ev) => {
				let value;
				try {
					value = JSON.parse(ev.data);
				} catch (e) {
					console.error('f1tel-dash: bad ' + part + ' event', e);
					return;
				}
				apply(part, value);
				updates += 1;
				document.body.dataset.updates = String(updates);
			});
		}
	}

	async function start() {
		loadSessions();
		renderSession(null);
		for (const part of PARTS) if (part !== 'db' && part !== 'session') apply(part, null);
		try {
			const r = await fetch('/api/state?session=' + encodeURIComponent(SESSION), { cache: 'no-store' });
			let body = null;
			try { body = await r.json(); } catch (e) { body = null; }
			if (r.status === 503) {
				renderDb({ ok: false, error: body && typeof body.detail === 'string' ? body.detail : '' });
			} else if (r.ok && body) {
				applyState(body);
			} else {
				console.warn('f1tel-dash: /api/state answered', r.status, body);
			}
		} catch (e) {
			status.serverDown = true;
			renderStatus();
		}
		follow();
	}

	if (typeof uPlot !== 'function') {
		console.error('f1tel-dash: uPlot did not load');
	}
	start();
})();
