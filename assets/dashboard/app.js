/* sweep serve — browser dashboard. Plain ES2020, no modules, no build step.
 *
 * Security: every string that comes from the API (names, labels, parameters, sample text,
 * reasons, markdown) is put in the page as text only: createElement / textContent /
 * setAttribute. Nothing from the API is ever assigned to innerHTML or parsed as HTML.
 */
(function () {
  'use strict';

  // ------------------------------------------------------------------ constants

  const STATUSES = ['completed', 'running', 'partial', 'pending', 'failed', 'stopped', 'diverged', 'damaged'];
  const STATUS_WORD = {
    completed: 'done', running: 'running', partial: 'partial', pending: 'pending',
    failed: 'failed', stopped: 'stopped', diverged: 'diverged', damaged: 'damaged',
  };
  const STATUS_RANK = { running: 0, partial: 1, pending: 2, completed: 3, stopped: 4, diverged: 5, failed: 6, damaged: 7 };
  const SEARCH_WORD = { grid: 'grid search', random: 'random search', tpe: 'TPE search' };
  const MAX_LINES = 40;             // lines (configurations or trials) drawn at once
  const MAX_CHART_POINTS = 600000;  // x points × series above which the chart data is thinned
  const DEFAULT_CONFIGS = 6;        // configurations selected by default
  const POLL_MS = 1000;
  const SUMMARY_MS = 10000;
  const STALE_MS = 1800;            // refetch trials while some run, even without a new generation
  const SELECT_MAX_VALUES = 20;     // more distinct numeric values: a text filter instead of a select
  const PALETTE = [
    [31, 119, 180], [255, 127, 14], [44, 160, 44], [214, 39, 40], [148, 103, 189],
    [140, 86, 75], [227, 119, 194], [188, 189, 34], [23, 190, 207],
  ];
  const SVGNS = 'http://www.w3.org/2000/svg';
  const collator = new Intl.Collator('en', { numeric: true, sensitivity: 'base' });

  // ------------------------------------------------------------------ DOM helpers

  function add(parent, c) {
    if (c == null || c === false) return;
    if (Array.isArray(c)) { for (const x of c) add(parent, x); return; }
    parent.appendChild(c instanceof Node ? c : document.createTextNode(String(c)));
  }

  /** createElement with attributes set by setAttribute (never HTML). `text` sets textContent. */
  function el(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    if (attrs) {
      for (const k of Object.keys(attrs)) {
        const v = attrs[k];
        if (v == null || v === false) continue;
        if (k === 'class') e.className = v;
        else if (k === 'text') e.textContent = String(v);
        else if (k === 'style') e.style.cssText = String(v);  // CSSOM: fine under a strict CSP
        else if (k === 'on') { for (const ev of Object.keys(v)) e.addEventListener(ev, v[ev]); }
        else e.setAttribute(k, v === true ? '' : String(v));
      }
    }
    for (const c of kids) add(e, c);
    return e;
  }

  function svgEl(tag, attrs, text) {
    const e = document.createElementNS(SVGNS, tag);
    if (attrs) for (const k of Object.keys(attrs)) if (attrs[k] != null) e.setAttribute(k, String(attrs[k]));
    if (text != null) e.textContent = String(text);
    return e;
  }

  /** Set a node's text only when it changed (cheap in-place updates). */
  function setText(node, text) {
    if (!node) return;
    text = String(text);
    if (node._txt !== text) { node._txt = text; node.textContent = text; }
  }

  function setAttr(node, name, value) {
    if (!node) return;
    value = String(value);
    if (node.getAttribute(name) !== value) node.setAttribute(name, value);
  }

  const $ = (sel, root) => (root || document).querySelector(sel);

  /** Durations (ms) of the main update steps, last and max, for tests and debugging. */
  const PERF = {};
  function timed(name, fn) {
    const t0 = performance.now();
    try { return fn(); } finally {
      const d = performance.now() - t0;
      const p = PERF[name] || (PERF[name] = { last: 0, max: 0, count: 0 });
      p.last = Math.round(d * 10) / 10; p.max = Math.max(p.max, p.last); p.count++;
    }
  }

  function debounce(fn, ms) {
    let t = null;
    return function () { clearTimeout(t); t = setTimeout(fn, ms); };
  }

  function rafOnce(fn) {
    let pending = false;
    return function () {
      if (pending) return;
      pending = true;
      requestAnimationFrame(() => { pending = false; fn(); });
    };
  }

  // ------------------------------------------------------------------ formatting

  function num(v) { return typeof v === 'number' && Number.isFinite(v) ? v : null; }

  function trimNum(v, sig) {
    if (v === 0) return '0';
    const a = Math.abs(v);
    if (a >= 1e6 || a < 1e-4) return v.toExponential(Math.max(0, sig - 1)).replace(/\.?0+e/, 'e');
    return String(parseFloat(v.toPrecision(sig)));
  }

  function fmtPpl(v) {
    v = num(v);
    if (v == null) return '—';
    const a = Math.abs(v);
    if (a >= 1e5) return v.toExponential(2);
    if (a >= 100) return v.toFixed(1);
    return v.toFixed(2);
  }

  function fmtRate(v) {
    v = num(v);
    if (v == null) return '—';
    if (v >= 100) return v.toFixed(0);
    if (v >= 10) return v.toFixed(1);
    return v.toFixed(2);
  }

  function fmtMem(v) { v = num(v); return v == null ? '—' : v.toFixed(1); }
  function fmtInt(v) { v = num(v); return v == null ? '—' : String(Math.round(v)); }

  function fmtParam(v) {
    if (v === null || v === undefined) return '—';
    if (typeof v === 'number') return Number.isInteger(v) ? String(v) : trimNum(v, 4);
    if (typeof v === 'string') return v;
    if (typeof v === 'boolean') return v ? 'true' : 'false';
    return JSON.stringify(v);
  }

  function fmtValue(v) {
    if (v === null || v === undefined) return '—';
    if (typeof v === 'number') return Number.isInteger(v) ? String(v) : trimNum(v, 6);
    if (typeof v === 'string') return v;
    if (typeof v === 'boolean') return v ? 'true' : 'false';
    return JSON.stringify(v);
  }

  function fmtTick(v) {
    if (v == null || !Number.isFinite(v)) return '';
    const a = Math.abs(v);
    if (a >= 1e5 || (a > 0 && a < 1e-4)) return v.toExponential(2).replace(/\.?0+e/, 'e').replace('e+', 'e');
    return trimNum(v, 4);
  }

  /** On a log axis with many splits keep the 1-2-5 ones (ticks, grid and labels). */
  function logSplitFilter(u, splits) {
    if (splits.length <= 12) return splits;
    return splits.map((v) => {
      if (!(v > 0)) return null;
      const m = v / Math.pow(10, Math.floor(Math.log10(v) + 1e-9));
      return [1, 2, 5].some((k) => Math.abs(m - k) < 1e-6) ? v : null;
    });
  }

  /** 200 -> "3 min 20 s", 4000 -> "1 h 6 min". */
  function fmtDuration(s) {
    s = num(s);
    if (s == null) return '—';
    s = Math.max(0, Math.round(s));
    if (s < 60) return s + ' s';
    const m = Math.floor(s / 60), sec = s % 60;
    if (m < 60) return sec ? `${m} min ${sec} s` : `${m} min`;
    const h = Math.floor(m / 60), mm = m % 60;
    if (h < 24) return mm ? `${h} h ${mm} min` : `${h} h`;
    const d = Math.floor(h / 24), hh = h % 24;
    return hh ? `${d} d ${hh} h` : `${d} d`;
  }

  /** A path relative to the results folder -> /files/<encoded segments>, or null if unsafe. */
  function filesUrl(path) {
    if (typeof path !== 'string') return null;
    path = path.trim();
    if (!path || /^[a-z][a-z0-9+.-]*:/i.test(path) || path.startsWith('/') || path.startsWith('\\')) return null;
    const segs = path.split('/').filter((s) => s !== '.').map((s) => {
      try { return decodeURIComponent(s); } catch (e) { return s; }  // "a%20b.png" and "a b.png" alike
    });
    if (!segs.length || segs.some((s) => s === '..' || s === '' || s.includes('/'))) return null;
    return '/files/' + segs.map(encodeURIComponent).join('/');
  }

  function trialFileUrl(id, name) {
    return '/files/trials/' + encodeURIComponent(id) + '/' + String(name).split('/').map(encodeURIComponent).join('/');
  }

  function trialHref(id) { return '#/trial/' + encodeURIComponent(id); }

  // ------------------------------------------------------------------ colours

  function paletteColor(i) {
    if (i < PALETTE.length) return PALETTE[i];
    const h = ((i - PALETTE.length) * 137.508 + 20) % 360;
    return hslToRgb(h / 360, 0.62, 0.45);
  }

  function hslToRgb(h, s, l) {
    const f = (p, q, t) => {
      if (t < 0) t += 1;
      if (t > 1) t -= 1;
      if (t < 1 / 6) return p + (q - p) * 6 * t;
      if (t < 1 / 2) return q;
      if (t < 2 / 3) return p + (q - p) * (2 / 3 - t) * 6;
      return p;
    };
    const q = l < 0.5 ? l * (1 + s) : l + s - l * s, p = 2 * l - q;
    return [f(p, q, h + 1 / 3), f(p, q, h), f(p, q, h - 1 / 3)].map((x) => Math.round(x * 255));
  }

  const rgb = (c) => `rgb(${c[0]},${c[1]},${c[2]})`;
  const rgba = (c, a) => `rgba(${c[0]},${c[1]},${c[2]},${a})`;

  // ------------------------------------------------------------------ state

  const S = {
    sweep: null,
    generation: null,
    trials: [],            // API order
    byId: new Map(),
    trialsAt: 0,
    paramCols: [],         // names of the parameters shown as columns / axes
    cols: [],              // table column descriptors
    colByKey: {},
    rows: new Map(),       // id -> row record
    tableSig: null,
    sort: { key: null, dir: 1 },
    filters: {},           // column key -> string value ('' = all)
    brushes: {},           // parallel axis name -> brush
    visible: new Set(),
    selected: new Set(),
    userSelected: false,
    userMean: false,
    colors: new Map(),     // config_key -> [r,g,b]
    curves: new Map(),     // trial id -> curve entry
    opts: { log: true, train: true, held: true, mean: false, smooth: 0.6 },
    summaryMd: null,
    summaryAt: 0,
    wasRunning: false,
    live: null,
    route: null,
    overviewStale: true,
    overviewScroll: 0,
    curvesBusy: false,
    curvesAgain: false,
  };

  function colorOf(configKey) {
    const k = String(configKey);
    let c = S.colors.get(k);
    if (!c) { c = paletteColor(S.colors.size); S.colors.set(k, c); }
    return c;
  }

  // ------------------------------------------------------------------ network

  class ApiError extends Error {
    constructor(message, status) { super(message); this.status = status; }
  }

  async function getJSON(url) {
    let r;
    try {
      r = await fetch(url, { cache: 'no-store', headers: { Accept: 'application/json' } });
    } catch (e) {
      setLive(false);
      throw new ApiError('network error: ' + (e && e.message ? e.message : e), 0);
    }
    let body = null;
    try { body = await r.json(); } catch (e) { body = null; }
    if (!r.ok) {
      if (r.status >= 500) setLive(false);
      const msg = body && typeof body.error === 'string' ? body.error : `HTTP ${r.status}`;
      throw new ApiError(msg, r.status);
    }
    if (body === null || typeof body !== 'object') throw new ApiError('malformed response from ' + url, r.status);
    return body;
  }

  function setLive(ok) {
    if (S.live === ok) return;
    S.live = ok;
    const box = $('#live-indicator');
    box.setAttribute('data-state', ok ? 'live' : 'disconnected');
    setText($('.live-text', box), ok ? 'live' : 'disconnected — retrying');
    box.title = ok ? 'polling the server every second' : 'the server did not answer; retrying';
  }

  // ------------------------------------------------------------------ markdown (safe subset)

  const INLINE_ALL = { bold: true, italic: true, code: true, images: true };
  const INLINE_VERDICT = { bold: true, italic: false, code: true, images: false };

  function makeImg(url, alt) {
    return el('a', { href: url, target: '_blank', rel: 'noopener', class: 'md-img' },
      el('img', { src: url, alt: alt, title: alt || null, loading: 'lazy' }));
  }

  /** Inline markdown: **bold**, *italic*, `code`, ![alt](path); everything else is text. */
  function renderInline(src, opt) {
    opt = opt || INLINE_ALL;
    src = String(src);
    const frag = document.createDocumentFragment();
    let buf = '';
    const flush = () => { if (buf) { frag.appendChild(document.createTextNode(buf)); buf = ''; } };
    const n = src.length;
    let i = 0;
    while (i < n) {
      const ch = src[i];
      if (ch === '\\' && i + 1 < n && /[\\`*_{}[\]()#+\-.!|>~]/.test(src[i + 1])) {
        buf += src[i + 1]; i += 2; continue;
      }
      if (ch === '`' && opt.code) {
        let k = i;
        while (k < n && src[k] === '`') k++;
        const ticks = src.slice(i, k);
        let end = src.indexOf(ticks, k);
        while (end >= 0 && src[end + ticks.length] === '`') {
          let e2 = end; while (src[e2] === '`') e2++;
          end = src.indexOf(ticks, e2);
        }
        if (end >= 0) {
          flush();
          let code = src.slice(k, end);
          if (code.length > 2 && code[0] === ' ' && code[code.length - 1] === ' ') code = code.slice(1, -1);
          frag.appendChild(el('code', { text: code }));
          i = end + ticks.length;
          continue;
        }
        buf += ticks; i = k; continue;
      }
      if (ch === '!' && opt.images && src[i + 1] === '[') {
        const m = /^!\[([^\]]*)\]\(([^)]*)\)/.exec(src.slice(i, i + 2000));
        let url = null;
        if (m) {
          let target = m[2].trim().replace(/\s+"[^"]*"$/, '').trim();  // drop an optional "title"
          if (target.startsWith('<') && target.endsWith('>')) target = target.slice(1, -1);
          url = filesUrl(target);
        }
        if (url) { flush(); frag.appendChild(makeImg(url, m[1])); i += m[0].length; continue; }
      }
      if (ch === '*' && src[i + 1] === '*' && opt.bold) {
        const end = src.indexOf('**', i + 2);
        if (end > i + 2) {
          flush();
          const s = el('strong');
          s.appendChild(renderInline(src.slice(i + 2, end), opt));
          frag.appendChild(s);
          i = end + 2;
          continue;
        }
        buf += '**'; i += 2; continue;
      }
      if (ch === '*' && opt.italic && i + 1 < n && src[i + 1] !== ' ' && src[i + 1] !== '*') {
        let end = -1;
        for (let k = i + 1; k < n && k < i + 2000; k++) {
          const c = src[k];
          if (c === '\\') { k++; continue; }
          if (c === '`') { const e2 = src.indexOf('`', k + 1); if (e2 > 0) { k = e2; continue; } }
          if (c === '*') {
            if (src[k + 1] === '*') { const e3 = src.indexOf('**', k + 2); if (e3 > 0) { k = e3 + 1; continue; } }
            if (src[k - 1] !== ' ') { end = k; break; }
          }
        }
        if (end > i + 1) {
          flush();
          const e = el('em');
          e.appendChild(renderInline(src.slice(i + 1, end), opt));
          frag.appendChild(e);
          i = end + 1;
          continue;
        }
      }
      buf += ch; i++;
    }
    flush();
    return frag;
  }

  function splitRow(line) {
    let s = line.trim();
    if (s.startsWith('|')) s = s.slice(1);
    if (s.endsWith('|') && !s.endsWith('\\|')) s = s.slice(0, -1);
    const cells = [];
    let cur = '';
    let inCode = false;
    for (let i = 0; i < s.length; i++) {
      const c = s[i];
      if (c === '\\' && s[i + 1] === '|') { cur += '\\|'; i++; continue; }
      if (c === '`') inCode = !inCode;
      if (c === '|' && !inCode) { cells.push(cur.trim()); cur = ''; continue; }
      cur += c;
    }
    cells.push(cur.trim());
    return cells;
  }

  const RE_TABLE_SEP = /^\s*\|?\s*:?-{1,}:?\s*(\|\s*:?-{1,}:?\s*)*\|?\s*$/;
  const RE_HEADING = /^(#{1,6})\s+(.*?)\s*#*\s*$/;
  const RE_UL = /^\s*[-*+]\s+(.*)$/;
  const RE_OL = /^\s*(\d{1,9})[.)]\s+(.*)$/;
  const RE_QUOTE = /^\s*>\s?(.*)$/;
  const RE_FENCE = /^\s*(```|~~~)/;
  const RE_HR = /^\s*([-*_])(\s*\1){2,}\s*$/;

  function isTableStart(lines, i) {
    return lines[i].trim().startsWith('|') && i + 1 < lines.length && RE_TABLE_SEP.test(lines[i + 1]) && lines[i + 1].includes('-');
  }

  function startsBlock(lines, i) {
    const l = lines[i];
    return RE_HEADING.test(l) || RE_UL.test(l) || RE_OL.test(l) || RE_QUOTE.test(l) || RE_FENCE.test(l) ||
      RE_HR.test(l) || isTableStart(lines, i);
  }

  /** Block markdown for the summary: headings, paragraphs, lists, pipe tables, quotes, fences. */
  function renderMarkdown(md, depth) {
    depth = depth || 0;
    const frag = document.createDocumentFragment();
    const lines = String(md).replace(/\r\n?/g, '\n').split('\n');
    let i = 0;
    while (i < lines.length) {
      const line = lines[i];
      if (!line.trim()) { i++; continue; }
      let m;
      if (RE_FENCE.test(line)) {
        const fence = RE_FENCE.exec(line)[1];
        const body = [];
        i++;
        while (i < lines.length && !lines[i].trim().startsWith(fence)) body.push(lines[i++]);
        i++;
        frag.appendChild(el('pre', null, el('code', { text: body.join('\n') })));
        continue;
      }
      if ((m = RE_HEADING.exec(line))) {
        const level = Math.min(6, m[1].length + 1);  // the page owns <h1>
        const h = el('h' + level);
        h.appendChild(renderInline(m[2]));
        frag.appendChild(h);
        i++;
        continue;
      }
      if (RE_HR.test(line)) { frag.appendChild(el('hr')); i++; continue; }
      if (isTableStart(lines, i)) {
        const head = splitRow(lines[i]);
        const aligns = splitRow(lines[i + 1]).map((c) => {
          const l = c.startsWith(':'), r = c.endsWith(':');
          return l && r ? 'center' : r ? 'right' : l ? 'left' : null;
        });
        i += 2;
        const table = el('table', { class: 'md-table' });
        const thead = el('thead');
        const htr = el('tr');
        head.forEach((c, k) => {
          const th = el('th', aligns[k] ? { style: 'text-align:' + aligns[k] } : null);
          th.appendChild(renderInline(c));
          htr.appendChild(th);
        });
        thead.appendChild(htr);
        table.appendChild(thead);
        const tbody = el('tbody');
        while (i < lines.length && lines[i].trim().startsWith('|')) {
          const cells = splitRow(lines[i]);
          const tr = el('tr');
          for (let k = 0; k < head.length; k++) {
            const td = el('td', aligns[k] ? { style: 'text-align:' + aligns[k] } : null);
            td.appendChild(renderInline(cells[k] == null ? '' : cells[k]));
            tr.appendChild(td);
          }
          tbody.appendChild(tr);
          i++;
        }
        table.appendChild(tbody);
        frag.appendChild(el('div', { class: 'table-scroll' }, table));
        continue;
      }
      if (RE_UL.test(line) || RE_OL.test(line)) {
        const ordered = !RE_UL.test(line);
        const list = el(ordered ? 'ol' : 'ul');
        if (ordered) { const start = parseInt(RE_OL.exec(line)[1], 10); if (start !== 1) list.setAttribute('start', String(start)); }
        const re = ordered ? RE_OL : RE_UL;
        let item = null;
        while (i < lines.length && lines[i].trim()) {
          const l = lines[i];
          const mm = re.exec(l);
          if (mm) {
            item = [ordered ? mm[2] : mm[1]];
            const li = el('li');
            li._md = item;
            list.appendChild(li);
          } else if (/^\s+\S/.test(l) && item && !startsBlock(lines, i)) {
            item.push(l.trim());  // continuation line
          } else break;
          i++;
        }
        for (const li of list.children) li.appendChild(renderInline(li._md.join(' ')));
        frag.appendChild(list);
        continue;
      }
      if (RE_QUOTE.test(line) && depth < 4) {
        const body = [];
        while (i < lines.length && RE_QUOTE.test(lines[i])) body.push(RE_QUOTE.exec(lines[i++])[1]);
        const q = el('blockquote');
        q.appendChild(renderMarkdown(body.join('\n'), depth + 1));
        frag.appendChild(q);
        continue;
      }
      // paragraph
      const para = [];
      while (i < lines.length && lines[i].trim() && (para.length === 0 || !startsBlock(lines, i))) para.push(lines[i++].trim());
      const text = para.join(' ');
      const p = el('p');
      p.appendChild(renderInline(text));
      const kids = Array.from(p.childNodes);
      if (kids.some((k) => k.nodeType === 1) && kids.every((k) => (k.nodeType === 1 && k.classList.contains('md-img')) || (k.nodeType === 3 && !k.textContent.trim()))) p.className = 'figures';
      frag.appendChild(p);
    }
    return frag;
  }

  // ------------------------------------------------------------------ trial values

  function pv(t, p) {
    const params = t && t.params;
    if (!params || typeof params !== 'object') return null;
    const v = params[p];
    return v === undefined ? null : v;
  }

  const valueKey = (v) => (v === null || v === undefined ? 'null' : JSON.stringify(v));

  function heldOf(t) { const k = S.metric.keys; const v = num(t[k.final]); return v != null ? v : num(t[k.last]); }
  function trainOf(t) { const v = num(t.final_train_ppl); return v != null ? v : num(t.train_ppl); }

  // ------------------------------------------------------------------ the sweep's metric

  /**
   * What the sweep optimises, from /api/sweep's `metric`: the built-in model's held-out
   * perplexity (lower is better), or a program's metric by name with its mode. `keys` are
   * where /api/trials puts it, under the metric's own name for both kinds of trial:
   * last_<name>, final_<name>, best_<name> (the built-in model's name is heldout_ppl).
   * Until /api/sweep has answered, the built-in model is assumed.
   */
  const BUILTIN_METRIC = {
    builtin: true, name: 'heldout_ppl', mode: 'min', key: 'builtin',
    keys: { last: 'last_heldout_ppl', final: 'final_heldout_ppl', best: 'best_heldout_ppl' },
    column: 'held-out ppl', best: 'best held-out', series: 'held-out', axis: 'perplexity',
    colour: 'Colour: held-out perplexity, darker is better.', train: 'train',
  };

  function metricOf(sw) {
    const m = sw && sw.metric;
    if (!m || typeof m !== 'object' || m.builtin !== false || typeof m.name !== 'string' || !m.name) return BUILTIN_METRIC;
    const name = m.name;
    const mode = m.mode === 'max' ? 'max' : 'min';
    return {
      builtin: false, name, mode, key: 'program|' + name + '|' + mode,
      keys: { last: 'last_' + name, final: 'final_' + name, best: 'best_' + name },
      column: name, best: 'best ' + name, series: name, axis: name,
      colour: `Colour: rank by ${name}, darkest is best (the ${mode === 'max' ? 'highest' : 'lowest'}).`,
      train: name === 'train_loss' ? null : 'train_loss',  // the program's train series, if it reports one
    };
  }
  S.metric = BUILTIN_METRIC;

  /** The sweep's objective of trial `t` (final, else latest). */
  const metricOfTrial = heldOf;

  /** Lower is better: the metric, negated when higher is better. */
  function scoreOf(t) {
    const v = metricOfTrial(t);
    return v == null ? null : S.metric.mode === 'max' ? -v : v;
  }

  /** A value of the metric, for tables and legends (a program's: 4 decimals, as its summary). */
  function fmtMetric(v) {
    if (S.metric.builtin) return fmtPpl(v);
    v = num(v);
    if (v == null) return '—';
    const a = Math.abs(v);
    if (a >= 1e5 || (a > 0 && a < 1e-3)) return v.toExponential(3);
    return a >= 100 ? v.toFixed(2) : v.toFixed(4);
  }

  function compareValues(a, b) {
    const an = a === null || a === undefined || (typeof a === 'number' && !Number.isFinite(a));
    const bn = b === null || b === undefined || (typeof b === 'number' && !Number.isFinite(b));
    if (an || bn) return an && bn ? 0 : an ? 1 : -1;  // handled by caller for "nulls last"
    if (typeof a === 'number' && typeof b === 'number') return a - b;
    if (typeof a === 'number') return -1;
    if (typeof b === 'number') return 1;
    return collator.compare(typeof a === 'string' ? a : JSON.stringify(a), typeof b === 'string' ? b : JSON.stringify(b));
  }

  function isNullish(v) { return v === null || v === undefined || (typeof v === 'number' && !Number.isFinite(v)); }

  /** Parameters shown as columns/axes: swept axes (file order) plus any other that varies. */
  function computeParamCols() {
    const axes = (S.sweep && Array.isArray(S.sweep.axes)) ? S.sweep.axes.map(String) : [];
    const names = [];
    const seen = new Set();
    for (const a of axes) if (!seen.has(a)) { seen.add(a); names.push(a); }
    const keys = [];
    for (const t of S.trials) {
      if (t.params && typeof t.params === 'object') for (const k of Object.keys(t.params)) if (!keys.includes(k)) keys.push(k);
    }
    for (const k of keys) {
      if (seen.has(k)) continue;
      let first, varies = false, init = false;
      for (const t of S.trials) {
        const v = valueKey(pv(t, k));
        if (!init) { first = v; init = true; } else if (v !== first) { varies = true; break; }
      }
      if (varies) { seen.add(k); names.push(k); }
    }
    // seed last, as in the labels
    const si = names.indexOf('seed');
    if (si >= 0 && si !== names.length - 1) { names.splice(si, 1); names.push('seed'); }
    return names;
  }

  function distinctValues(get) {
    const m = new Map();
    for (const t of S.trials) { const v = get(t); const k = valueKey(v); if (!m.has(k)) m.set(k, v); }
    return Array.from(m.entries()).sort((a, b) => compareValues(a[1], b[1]));
  }

  // ------------------------------------------------------------------ table columns

  function makeColumns() {
    const cols = [];
    cols.push({ key: 'select', title: '', sortable: false });
    cols.push({
      key: 'label', title: 'trial', cls: 'label',
      text: (t) => (typeof t.label === 'string' && t.label ? t.label : String(t.id)),
      sortVal: (t) => (typeof t.label === 'string' ? t.label : String(t.id)), filter: 'text',
      placeholder: 'filter',
    });
    cols.push({
      key: 'status', title: 'status',
      text: (t) => String(t.status == null ? '—' : t.status),
      sortVal: (t) => (t.status in STATUS_RANK ? STATUS_RANK[t.status] : 99),
      filter: 'select', filterKey: (t) => valueKey(t.status), filterValues: () => distinctValues((t) => t.status),
    });
    cols.push({
      key: 'step', title: 'step', cls: 'num',
      text: (t) => `${fmtInt(t.step)}/${fmtInt(t.steps)}`, sortVal: (t) => num(t.step), numeric: true,
    });
    for (const p of S.paramCols) {
      const vals = distinctValues((t) => pv(t, p));
      const allNum = vals.every(([, v]) => v === null || typeof v === 'number');
      cols.push({
        key: 'param-' + p, param: p, title: p, cls: allNum ? 'num' : null,
        text: (t) => fmtParam(pv(t, p)), sortVal: (t) => pv(t, p), numeric: allNum,
        filter: allNum && vals.length > SELECT_MAX_VALUES ? 'text' : 'select',
        filterKey: (t) => valueKey(pv(t, p)), filterValues: () => distinctValues((t) => pv(t, p)),
        placeholder: 'e.g. <0.01',
      });
    }
    const metric = (key, title, get, fmt) => ({
      key, title, cls: 'num', numeric: true, text: (t) => fmt(get(t)), sortVal: get, filter: 'text', placeholder: '<…',
    });
    const M = S.metric;
    // the metric's columns are keyed as the API names them (a program's by its metric's name);
    // the first click on its header sorts best first (highest first when higher is better)
    const objective = (key, title, get) => Object.assign(metric(key, title, get, fmtMetric),
      { firstDir: M.mode === 'max' ? -1 : 1, metricName: M.builtin ? null : M.name });
    if (M.builtin) cols.push(metric('train_ppl', 'train ppl', trainOf, fmtPpl));
    cols.push(objective(M.keys.last, M.column, heldOf));
    cols.push(objective(M.keys.best, M.best, (t) => num(t[M.keys.best])));
    cols.push(metric('steps_per_sec', 'steps/s', (t) => num(t.steps_per_sec), fmtRate));
    if (M.builtin || S.trials.some((t) => num(t.peak_memory_mb) != null)) {
      cols.push(metric('peak_memory_mb', 'memory (MiB)', (t) => num(t.peak_memory_mb), fmtMem));
    }
    // Trials placed on GPUs (--gpus): where each ran.
    if (S.trials.some((t) => t.gpus)) {
      cols.push({
        key: 'gpus', title: 'GPU', cls: 'num',
        text: (t) => (t.gpus ? String(t.gpus) : '—'), sortVal: (t) => (t.gpus ? String(t.gpus) : ''),
        filter: 'select', filterKey: (t) => valueKey(t.gpus || null), filterValues: () => distinctValues((t) => t.gpus || null),
      });
    }
    // Several objectives or constraints: where each trial's configuration stands.
    if (S.trials.some((t) => typeof t.front === 'string' && t.front)) {
      cols.push({
        key: 'front', title: 'front',
        text: (t) => (t.front ? String(t.front) : '—'), sortVal: (t) => (t.front ? String(t.front) : ''),
        filter: 'select', filterKey: (t) => valueKey(t.front || null), filterValues: () => distinctValues((t) => t.front || null),
      });
    }
    // A TPE search: each configuration's place in the search and who chose it.
    if (S.trials.some((t) => t.proposed_by)) {
      cols.push({
        key: 'chosen', title: 'chosen', cls: 'num',
        text: (t) => (t.proposed_by ? `${fmtInt(t.proposal)} · ${t.proposed_by === 'tpe' ? 'TPE' : 'random'}` : '—'),
        sortVal: (t) => num(t.proposal), numeric: true,
        filter: 'select', filterKey: (t) => valueKey(t.proposed_by), filterValues: () => distinctValues((t) => t.proposed_by),
      });
    }
    return cols;
  }

  // ------------------------------------------------------------------ trials table

  function buildTable() {
    const table = $('#trials');
    S.cols = makeColumns();
    S.colByKey = {};
    for (const c of S.cols) S.colByKey[c.key] = c;
    // drop filters on columns that disappeared
    for (const k of Object.keys(S.filters)) if (!S.colByKey[k]) delete S.filters[k];

    const thead = el('thead');
    const hr = el('tr', { class: 'head-row' });
    for (const c of S.cols) {
      const th = el('th', { 'data-col': c.key, class: c.cls || null, scope: 'col', 'data-metric': c.metricName || null });
      if (c.key === 'select') {
        const all = el('input', { type: 'checkbox', id: 'select-all', 'aria-label': 'select all shown trials for the curves', title: 'select all shown trials' });
        all.addEventListener('change', () => {
          S.userSelected = true;
          const ids = S.trials.filter((t) => S.visible.has(t.id)).map((t) => t.id);
          if (all.checked) ids.forEach((id) => S.selected.add(id)); else ids.forEach((id) => S.selected.delete(id));
          syncCheckboxes();
          refreshCurves();
        });
        th.appendChild(all);
      } else {
        th.classList.add('sortable');
        th.setAttribute('tabindex', '0');
        th.title = 'sort by ' + c.title;
        th.appendChild(el('span', { class: 'th-label', text: c.title }));
        th.appendChild(el('span', { class: 'sort-ind', 'aria-hidden': 'true' }));
        const go = () => sortBy(c.key);
        th.addEventListener('click', go);
        th.addEventListener('keydown', (e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); go(); } });
      }
      hr.appendChild(th);
    }
    thead.appendChild(hr);

    const fr = el('tr', { class: 'filter-row' });
    for (const c of S.cols) {
      const th = el('th', { 'data-col': c.key, class: c.cls || null });
      if (c.filter === 'select') {
        const sel = el('select', { 'data-filter': c.key, 'aria-label': 'filter ' + c.title });
        sel.addEventListener('change', () => { S.filters[c.key] = sel.value; applyVisibility(true); });
        c.control = sel;
        fillSelect(c);
        th.appendChild(sel);
      } else if (c.filter === 'text') {
        const inp = el('input', { type: 'search', 'data-filter': c.key, placeholder: c.placeholder || 'filter', 'aria-label': 'filter ' + c.title, size: 6 });
        inp.value = S.filters[c.key] || '';
        inp.addEventListener('input', debounce(() => { S.filters[c.key] = inp.value; applyVisibility(true); }, 150));
        c.control = inp;
        th.appendChild(inp);
      }
      fr.appendChild(th);
    }
    thead.appendChild(fr);

    const tbody = el('tbody');
    S.rows = new Map();
    const frag = document.createDocumentFragment();
    for (const t of S.trials) frag.appendChild(makeRow(t).tr);
    tbody.appendChild(frag);
    table.replaceChildren(thead, tbody);
    S.tbody = tbody;
    updateSortIndicators();
  }

  function fillSelect(c) {
    const sel = c.control;
    if (!sel) return;
    const vals = c.filterValues();
    const sig = vals.map((v) => v[0]).join('\u0001');
    if (sel._sig === sig) return;
    sel._sig = sig;
    const cur = S.filters[c.key] || '';
    const opts = [el('option', { value: '', text: 'all' })];
    for (const [k, v] of vals) opts.push(el('option', { value: k, text: fmtParam(v) }));
    sel.replaceChildren(...opts);
    sel.value = vals.some(([k]) => k === cur) ? cur : '';
    if (sel.value !== cur && cur) {
      // keep the filter on a value that is (for now) absent
      sel.appendChild(el('option', { value: cur, text: '(gone)' }));
      sel.value = cur;
    }
  }

  function makeRow(t) {
    const tr = el('tr', { 'data-trial-id': t.id });
    const row = { tr, td: {}, t };
    for (const c of S.cols) {
      const td = el('td', { 'data-col': c.key, class: c.cls || null });
      row.td[c.key] = td;
      if (c.key === 'select') {
        const cb = el('input', { type: 'checkbox', 'aria-label': 'draw curves', 'data-trial-id': t.id });
        cb.addEventListener('change', () => {
          S.userSelected = true;
          if (cb.checked) S.selected.add(t.id); else S.selected.delete(t.id);
          syncCheckboxes();
          refreshCurves();
        });
        row.cb = cb;
        row.swatch = el('span', { class: 'swatch', 'aria-hidden': 'true' });
        td.appendChild(cb);
        td.appendChild(row.swatch);
      } else if (c.key === 'label') {
        row.link = el('a', { href: trialHref(t.id) });
        td.appendChild(row.link);
      }
      tr.appendChild(td);
    }
    S.rows.set(t.id, row);
    updateRow(row, t);
    return row;
  }

  function updateRow(row, t) {
    row.t = t;
    for (const c of S.cols) {
      if (c.key === 'select') continue;
      const td = row.td[c.key];
      if (c.key === 'label') {
        setText(row.link, c.text(t));
        setAttr(row.link, 'title', 'trial ' + t.id);
      } else {
        setText(td, c.text(t));
      }
    }
    const status = String(t.status);
    if (row.status !== status) {
      row.status = status;
      row.tr.setAttribute('data-status', status);
      row.td.status.className = 'status status-' + status.replace(/[^a-z]/gi, '');
    }
    const reason = typeof t.reason === 'string' && t.reason ? t.reason : '';
    if (row.reason !== reason) {
      row.reason = reason;
      if (reason) row.td.status.setAttribute('title', reason); else row.td.status.removeAttribute('title');
    }
    const step = num(t.step), steps = num(t.steps);
    const frac = step != null && steps ? Math.max(0, Math.min(1, step / steps)) : 0;
    const fs = frac.toFixed(3);
    if (row.frac !== fs) { row.frac = fs; row.td.step.style.setProperty('--p', fs); }
    const color = rgb(colorOf(t.config_key == null ? t.id : t.config_key));
    if (row.color !== color) { row.color = color; row.swatch.style.background = color; }
  }

  function syncCheckboxes() {
    for (const [id, row] of S.rows) {
      const on = S.selected.has(id);
      if (row.cb.checked !== on) row.cb.checked = on;
      row.tr.classList.toggle('selected', on);
    }
    const all = $('#select-all');
    if (all) {
      let n = 0, s = 0;
      for (const id of S.visible) { n++; if (S.selected.has(id)) s++; }
      all.checked = n > 0 && s === n;
      all.indeterminate = s > 0 && s < n;
    }
    updateTrialsCount();
  }

  function sortBy(key) {
    if (S.sort.key === key) S.sort.dir = -S.sort.dir;
    else { S.sort.key = key; S.sort.dir = (S.colByKey[key] && S.colByKey[key].firstDir) || 1; }
    updateSortIndicators();
    applySort();
    curvesSoon();
  }

  function updateSortIndicators() {
    for (const th of document.querySelectorAll('#trials thead tr.head-row th')) {
      const key = th.getAttribute('data-col');
      const ind = $('.sort-ind', th);
      if (key === S.sort.key) {
        th.setAttribute('aria-sort', S.sort.dir > 0 ? 'ascending' : 'descending');
        th.setAttribute('data-sort', S.sort.dir > 0 ? 'asc' : 'desc');
        if (ind) ind.textContent = S.sort.dir > 0 ? '▲' : '▼';
      } else {
        th.removeAttribute('aria-sort');
        th.removeAttribute('data-sort');
        if (ind) ind.textContent = '';
      }
    }
  }

  function sortedIds() {
    const ids = S.trials.map((t) => t.id);
    const col = S.sort.key && S.colByKey[S.sort.key];
    if (!col || !col.sortVal) return ids;
    const pos = new Map(ids.map((id, k) => [id, k]));
    const vals = new Map(S.trials.map((t) => [t.id, col.sortVal(t)]));
    const dir = S.sort.dir;
    ids.sort((a, b) => {
      const va = vals.get(a), vb = vals.get(b);
      const na = isNullish(va), nb = isNullish(vb);
      if (na || nb) { if (na && nb) return pos.get(a) - pos.get(b); return na ? 1 : -1; }  // nulls last
      const c = compareValues(va, vb) * dir;
      return c || pos.get(a) - pos.get(b);
    });
    return ids;
  }

  function applySort() {
    if (!S.tbody) return;
    const ids = sortedIds();
    const cur = S.tbody.children;
    let same = cur.length === ids.length;
    for (let k = 0; same && k < ids.length; k++) if (cur[k].getAttribute('data-trial-id') !== ids[k]) same = false;
    if (same) return;
    const frag = document.createDocumentFragment();
    for (const id of ids) { const r = S.rows.get(id); if (r) frag.appendChild(r.tr); }
    S.tbody.appendChild(frag);
  }

  /** "<6", ">= 128", "1e-3..1e-2", "=0.5" or a substring of the shown text. */
  function matchText(expr, col, t) {
    expr = String(expr).trim();
    if (!expr) return true;
    const numRe = '[-+]?(?:\\d+\\.?\\d*|\\.\\d+)(?:e[-+]?\\d+)?';
    let m = new RegExp('^(<=|>=|<|>|=|==)\\s*(' + numRe + ')$', 'i').exec(expr);
    if (m && col.numeric) {
      const v = num(col.sortVal(t));
      if (v == null) return false;
      const x = parseFloat(m[2]);
      switch (m[1]) {
        case '<': return v < x;
        case '<=': return v <= x;
        case '>': return v > x;
        case '>=': return v >= x;
        default: return Math.abs(v - x) <= 1e-9 * Math.max(1, Math.abs(x));
      }
    }
    m = new RegExp('^(' + numRe + ')\\s*\\.\\.\\s*(' + numRe + ')$', 'i').exec(expr);
    if (m && col.numeric) {
      const v = num(col.sortVal(t));
      const a = parseFloat(m[1]), b = parseFloat(m[2]);
      return v != null && v >= Math.min(a, b) && v <= Math.max(a, b);
    }
    return col.text(t).toLowerCase().includes(expr.toLowerCase());
  }

  function passFilters(t) {
    for (const key of Object.keys(S.filters)) {
      const f = S.filters[key];
      if (!f) continue;
      const col = S.colByKey[key];
      if (!col) continue;
      if (col.filter === 'select') { if (col.filterKey(t) !== f) return false; }
      else if (!matchText(f, col, t)) return false;
    }
    return true;
  }

  function passBrushes(t) {
    for (const name of Object.keys(S.brushes)) {
      const b = S.brushes[name];
      if (b && !b.test(t)) return false;
    }
    return true;
  }

  const curvesSoon = debounce(() => refreshCurves(), 200);

  /** Recompute which trials pass the filters and brushes; hide the others everywhere. */
  function applyVisibility(updateCurves) {
    const vis = new Set();
    for (const t of S.trials) if (passFilters(t) && passBrushes(t)) vis.add(t.id);
    let changed = vis.size !== S.visible.size;
    if (!changed) for (const id of vis) if (!S.visible.has(id)) { changed = true; break; }
    S.visible = vis;
    for (const [id, row] of S.rows) {
      const hide = !vis.has(id);
      if (row.tr.hidden !== hide) row.tr.hidden = hide;
    }
    PC.updateClasses();
    syncCheckboxes();
    if (changed && updateCurves) curvesSoon();
  }

  function updateTrialsCount() {
    const n = S.trials.length;
    let sel = 0;
    for (const id of S.selected) if (S.visible.has(id)) sel++;
    setText($('#trials-count'), `${S.visible.size} of ${n} trials shown · ${sel} selected for curves`);
  }

  /** Up to DEFAULT_CONFIGS best configurations by the sweep's metric (all their seeds). */
  function defaultSelection() {
    const groups = new Map();
    for (const t of S.trials) {
      const k = String(t.config_key == null ? t.id : t.config_key);
      if (!groups.has(k)) groups.set(k, []);
      groups.get(k).push(t);
    }
    const scored = [];
    let order = 0;
    for (const [k, ts] of groups) {
      const vals = ts.filter((t) => t.status !== 'diverged' && t.status !== 'failed').map(scoreOf).filter((v) => v != null);
      const score = vals.length ? vals.reduce((a, b) => a + b, 0) / vals.length : null;
      const progress = ts.reduce((a, t) => a + (num(t.step) || 0), 0);
      scored.push({ k, ts, score, progress, order: order++ });
    }
    scored.sort((a, b) => {
      if (a.score != null && b.score != null) return a.score - b.score || a.order - b.order;
      if (a.score != null) return -1;
      if (b.score != null) return 1;
      return b.progress - a.progress || a.order - b.order;
    });
    const out = new Set();
    const broken = (t) => t.status === 'diverged' || t.status === 'failed' || t.status === 'damaged';
    for (const g of scored.slice(0, DEFAULT_CONFIGS)) {
      const ok = g.ts.filter((t) => !broken(t));
      for (const t of ok.length ? ok : g.ts) out.add(t.id);
    }
    return out;
  }

  function sameSet(a, b) {
    if (a.size !== b.size) return false;
    for (const x of a) if (!b.has(x)) return false;
    return true;
  }

  /** New /api/trials data: update the table in place (rebuild only if its columns changed). */
  function ingestTrials(list) {
    const trials = Array.isArray(list) ? list.filter((t) => t && typeof t === 'object' && t.id != null) : [];
    for (const t of trials) t.id = String(t.id);
    S.trials = trials;
    S.byId = new Map(trials.map((t) => [t.id, t]));
    for (const t of trials) colorOf(t.config_key == null ? t.id : t.config_key);
    for (const id of Array.from(S.selected)) if (!S.byId.has(id)) S.selected.delete(id);

    if (!S.userMean) {
      const counts = new Map();
      for (const t of trials) { const k = String(t.config_key); counts.set(k, (counts.get(k) || 0) + 1); }
      const seeds = Array.from(counts.values()).some((n) => n > 1);
      if (S.opts.mean !== seeds) { S.opts.mean = seeds; $('#opt-mean').checked = seeds; }
    }

    S.paramCols = computeParamCols();
    const sig = JSON.stringify(S.paramCols) + '|' + S.paramCols.map((p) => {
      const vals = distinctValues((t) => pv(t, p));
      const allNum = vals.every(([, v]) => v === null || typeof v === 'number');
      return (allNum ? 'n' : 's') + (allNum && vals.length > SELECT_MAX_VALUES ? 't' : 'l');
    }).join('') + (S.trials.some((t) => t.proposed_by) ? '|chosen' : '') +
      (S.metric.builtin ? '' : '|' + S.metric.key + (S.trials.some((t) => num(t.peak_memory_mb) != null) ? '|mem' : ''));
    if (sig !== S.tableSig || !S.tbody) {
      S.tableSig = sig;
      buildTable();
    } else {
      // in place: update existing rows, add new ones, drop removed ones
      for (const t of trials) {
        const row = S.rows.get(t.id);
        if (row) updateRow(row, t);
        else S.tbody.appendChild(makeRow(t).tr);
      }
      for (const [id, row] of Array.from(S.rows)) if (!S.byId.has(id)) { row.tr.remove(); S.rows.delete(id); }
      for (const c of S.cols) if (c.filter === 'select') fillSelect(c);
    }
    if (!S.userSelected) {
      const def = defaultSelection();
      if (!sameSet(def, S.selected) && !(curveChart && curveChart.zoomed())) S.selected = def;
    }
    applySort();
    applyVisibility(false);
    PC.render();
  }

  // ------------------------------------------------------------------ curves: data

  function curveEntry(id) {
    let c = S.curves.get(id);
    if (!c) { c = { step: [], train: [], held: [], last: 0, inflight: null, loaded: false, sm: null }; S.curves.set(id, c); }
    return c;
  }

  function appendCurve(c, d) {
    const cols = Array.isArray(d.columns) ? d.columns.map(String) : ['step', 'train_loss', 'train_ppl', 'heldout_ppl', 'elapsed_s'];
    const M = S.metric;
    // the model: train perplexity (else exp of the train loss) and held-out perplexity; a
    // program: its metric's column and train_loss as reported (rows only where it reported)
    const iS = cols.indexOf('step'), iT = M.builtin ? cols.indexOf('train_ppl') : -1;
    const iL = M.builtin || M.train ? cols.indexOf('train_loss') : -1, iH = cols.indexOf(M.name);
    const rows = Array.isArray(d.rows) ? d.rows : [];
    for (const r of rows) {
      if (!Array.isArray(r)) continue;
      const s = num(r[iS]);
      if (s == null || (c.step.length && s <= c.last)) continue;
      let tr = iT >= 0 ? num(r[iT]) : null;
      if (tr == null && iL >= 0) { const l = num(r[iL]); if (l != null) tr = M.builtin ? Math.exp(l) : l; }
      c.step.push(s);
      c.train.push(tr);
      c.held.push(iH >= 0 ? num(r[iH]) : null);
      c.last = s;
      c.ver = (c.ver || 0) + 1;
    }
    c.loaded = true;
  }

  function fetchCurve(id, force) {
    const c = curveEntry(id);
    if (c.inflight) return c.inflight;
    const t = S.byId.get(id);
    if (!force && t && num(t.step) != null && t.step < c.last) {
      // the trial went back (resumed from a checkpoint): start over
      c.step = []; c.train = []; c.held = []; c.last = 0; c.sm = null; c.loaded = false; c.ver = (c.ver || 0) + 1;
    }
    if (!force && c.loaded && !(t && num(t.step) != null && t.step > c.last)) return Promise.resolve();
    const url = '/api/curves?trial=' + encodeURIComponent(id) + '&since=' + encodeURIComponent(String(c.last));
    c.inflight = getJSON(url)
      .then((d) => appendCurve(c, d))
      .catch((e) => { c.error = e; })
      .finally(() => { c.inflight = null; });
    return c.inflight;
  }

  async function fetchCurves(ids, force) {
    let k = 0;
    const worker = async () => { while (k < ids.length) { const id = ids[k++]; await fetchCurve(id, force); } };
    const n = Math.min(6, ids.length);
    const ws = [];
    for (let w = 0; w < n; w++) ws.push(worker());
    await Promise.all(ws);
  }

  /**
   * Debiased EMA of ln(ppl) (a program's train values: of the values themselves, over the rows
   * it reported), continued incrementally as rows arrive.
   */
  function smoothedTrain(c, a) {
    if (!(a > 0)) return c.train;
    const lin = !S.metric.builtin;
    let s = c.sm;
    if (!s || s.a !== a || s.lin !== lin || s.n > c.train.length) s = c.sm = { a, lin, n: 0, acc: 0, w: 0, out: [] };
    for (let k = s.n; k < c.train.length; k++) {
      const v = c.train[k];
      if (v != null && (lin ? Number.isFinite(v) : v > 0)) {
        s.acc = a * s.acc + (1 - a) * (lin ? v : Math.log(v));
        s.w = a * s.w + (1 - a);
        s.out.push(lin ? s.acc / s.w : Math.exp(s.acc / s.w));
      } else s.out.push(null);
    }
    s.n = c.train.length;
    return s.out;
  }

  /**
   * Build uPlot data for groups [{key, label, color, ids}]. In mean mode a group with several
   * trials becomes one mean line and a min–max band; otherwise each group is one trial.
   */
  function buildChartData(groups, o) {
    const ids = [];
    for (const g of groups) for (const id of g.ids) if (!ids.includes(id)) ids.push(id);
    let contiguous = true, xmin = Infinity, xmax = -Infinity, total = 0;
    for (const id of ids) {
      const c = S.curves.get(id);
      if (!c || !c.step.length) continue;
      const n = c.step.length, a = c.step[0], b = c.step[n - 1];
      total += n;
      if (!Number.isInteger(a) || !Number.isInteger(b) || b - a !== n - 1) contiguous = false;
      if (a < xmin) xmin = a;
      if (b > xmax) xmax = b;
    }
    let x = [], index = null;
    if (total > 0) {
      if (contiguous && xmax - xmin + 1 <= Math.max(4 * total, 1000)) {
        const n = xmax - xmin + 1;
        x = new Array(n);
        for (let k = 0; k < n; k++) x[k] = xmin + k;
        index = (s) => s - xmin;
      } else {
        const set = new Set();
        for (const id of ids) { const c = S.curves.get(id); if (c) for (const s of c.step) set.add(s); }
        x = Array.from(set).sort((p, q) => p - q);
        const m = new Map();
        x.forEach((s, k) => m.set(s, k));
        index = (s) => m.get(s);
      }
    }
    const N = x.length;
    const heldMask = new Uint8Array(N);
    const aligned = (id, kind) => {
      const out = new Array(N).fill(null);
      const c = S.curves.get(id);
      if (!c) return out;
      const src = kind === 'train' ? smoothedTrain(c, o.smooth) : c.held;
      for (let k = 0; k < c.step.length; k++) {
        const v = src[k];
        if (v == null || (o.log && !(v > 0))) continue;
        const j = index(c.step[k]);
        out[j] = v;
        if (kind === 'held') heldMask[j] = 1;
      }
      return out;
    };

    const series = [], data = [x], bands = [], legend = [];
    const kinds = [];
    const M = S.metric;
    if (o.train && M.train) kinds.push('train');
    if (o.held) kinds.push('held');
    const kindName = (isHeld) => (isHeld ? M.series : M.train);
    for (const g of groups) {
      const row = { key: g.key, label: g.label, color: g.color, n: g.ids.length, ids: g.ids, idx: {}, all: [] };
      for (const kind of kinds) {
        const isHeld = kind === 'held';
        const main = {
          label: `${g.label} · ${kindName(isHeld)}`,
          stroke: rgb(g.color),
          width: isHeld ? 2 : 1.5,
          dash: isHeld ? [6, 4] : undefined,
          spanGaps: true,
          points: isHeld ? { show: true, size: 5, fill: rgb(g.color), stroke: rgb(g.color) } : { show: false },
        };
        if (g.ids.length === 1) {
          data.push(aligned(g.ids[0], kind));
          series.push(main);
        } else {
          const arrs = g.ids.map((id) => aligned(id, kind));
          const mean = new Array(N).fill(null), lo = new Array(N).fill(null), hi = new Array(N).fill(null);
          for (let k = 0; k < N; k++) {
            let s = 0, cnt = 0, mn = Infinity, mx = -Infinity;
            for (const a of arrs) { const v = a[k]; if (v != null) { s += v; cnt++; if (v < mn) mn = v; if (v > mx) mx = v; } }
            if (cnt) { mean[k] = s / cnt; lo[k] = mn; hi[k] = mx; }
          }
          const bandSeries = { label: `${g.label} · ${kindName(isHeld)} (band)`, stroke: 'rgba(0,0,0,0)', width: 1, spanGaps: true, points: { show: false } };
          data.push(hi); series.push(Object.assign({}, bandSeries));
          const hiIdx = series.length;           // uPlot series index (0 is x)
          data.push(lo); series.push(Object.assign({}, bandSeries));
          const loIdx = series.length;
          bands.push({ series: [hiIdx, loIdx], fill: rgba(g.color, isHeld ? 0.1 : 0.16) });
          row.all.push(hiIdx, loIdx);
          data.push(mean); series.push(main);
        }
        row.idx[kind] = series.length;
        row.all.push(series.length);
      }
      legend.push(row);
    }

    // thin very large data (keeps every held-out / metric point)
    const nSeries = data.length - 1;
    if (N * nSeries > MAX_CHART_POINTS && N > 2) {
      const stride = Math.ceil((N * nSeries) / MAX_CHART_POINTS);
      const keep = [];
      for (let k = 0; k < N; k++) if (k % stride === 0 || k === N - 1 || heldMask[k]) keep.push(k);
      for (let s = 0; s < data.length; s++) {
        const src = data[s], dst = new Array(keep.length);
        for (let k = 0; k < keep.length; k++) dst[k] = src[keep[k]];
        data[s] = dst;
      }
    }
    return { data, series, bands, legend };
  }

  // ------------------------------------------------------------------ curves: chart

  function logRange(u, min, max) {
    if (min == null || max == null || !(min > 0)) return [1, 100];
    if (min === max) return [min / 1.5, max * 1.5];
    const f = Math.pow(max / min, 0.04);
    return [min / f, max * f];
  }

  function linRange(u, min, max) {
    if (min == null || max == null) return [0, 1];
    if (min === max) return [min - 1, max + 1];
    const pad = (max - min) * 0.04;
    return [min >= 0 ? Math.max(0, min - pad) : min - pad, max + pad];  // below 0 only for negative values
  }

  /**
   * Whether the curves of `ids` can have a log y axis: always for the model's perplexities; for
   * a program, when its metric is minimised and every value drawn is above 0.
   */
  function logAllowed(ids, o) {
    const M = S.metric;
    if (M.builtin) return true;
    if (M.mode !== 'min') return false;
    for (const id of ids) {
      const c = S.curves.get(id);
      if (!c) continue;
      for (const arr of [o.held ? c.held : null, o.train && M.train ? c.train : null]) {
        if (arr) for (const v of arr) if (v != null && !(v > 0)) return false;
      }
    }
    return true;
  }

  /**
   * A uPlot chart with a custom legend table (values under the cursor). update() keeps the
   * chart (setData) while the series stay the same, and rebuilds it when they change.
   */
  function makeCurveChart(box, legendTable, height) {
    const st = { u: null, sig: null, zoomed: false, legend: [], hidden: new Set(), data: null, ro: null, legendRows: [] };

    function destroy() {
      if (st.u) { st.u.destroy(); st.u = null; }
      st.sig = null;
    }

    function width() { return Math.max(320, Math.floor(box.clientWidth || box.getBoundingClientRect().width || 800)); }

    function placeholder(text) {
      destroy();
      box.replaceChildren(el('div', { class: 'chart-empty', text }));
      legendTable.replaceChildren();
      st.legendRows = [];
      box.setAttribute('data-lines', '0');
    }

    function nearestBack(arr, k) {
      for (let j = k; j >= 0; j--) if (arr[j] != null) return j;
      return -1;
    }

    function updateLegend() {
      const u = st.u;
      if (!u || !st.data) return;
      const x = st.data[0];
      const last = x.length - 1;
      const idx = u.cursor.idx == null ? last : u.cursor.idx;
      setText(st.stepCell, idx >= 0 && x[idx] != null ? 'step ' + x[idx] : 'step');
      for (const r of st.legendRows) {
        for (const kind of ['train', 'held']) {
          const cell = r.cells[kind];
          if (!cell) continue;
          const si = r.row.idx[kind];
          if (si == null) { setText(cell, ''); continue; }
          const arr = st.data[si];
          // a program's rows are sparse: its train values too are the last reported ones
          const sparse = kind === 'held' || !S.metric.builtin;
          let j = idx;
          if (sparse || u.cursor.idx == null) j = nearestBack(arr, idx);
          if (j < 0 || arr[j] == null) setText(cell, '—');
          else setText(cell, fmtMetric(arr[j]) + (sparse && j !== idx ? ` @${x[j]}` : ''));
        }
      }
    }

    function buildLegend(rows, o) {
      const head = el('tr', null,
        el('th', { class: 'lg-sw' }),
        el('th', { class: 'lg-label' }, st.stepCell = el('span', { class: 'lg-step', text: 'step' })),
        o.train && S.metric.train ? el('th', { class: 'num', text: S.metric.train }) : null,
        o.held ? el('th', { class: 'num', text: S.metric.series }) : null);
      const body = el('tbody');
      st.legendRows = rows.map((row) => {
        const cells = {};
        const tr = el('tr', { 'data-key': row.key, title: 'click to hide / show' },
          el('td', { class: 'lg-sw' }, el('span', { class: 'swatch', style: 'background:' + rgb(row.color) })),
          el('td', { class: 'lg-label', text: row.label + (row.n > 1 ? ` (${row.n} seeds)` : '') }),
          o.train && S.metric.train ? (cells.train = el('td', { class: 'num' })) : null,
          o.held ? (cells.held = el('td', { class: 'num' })) : null);
        if (row.ids.length === 1) tr.setAttribute('data-trial-id', row.ids[0]);
        tr.classList.toggle('off', st.hidden.has(row.key));
        tr.addEventListener('click', () => {
          const off = !st.hidden.has(row.key);
          if (off) st.hidden.add(row.key); else st.hidden.delete(row.key);
          tr.classList.toggle('off', off);
          if (st.u) st.u.batch(() => { for (const si of row.all) st.u.setSeries(si, { show: !off }); });
        });
        body.appendChild(tr);
        return { row, cells, tr };
      });
      legendTable.replaceChildren(el('thead', null, head), body);
    }

    function update(groups, o) {
      if (!groups.length) { placeholder(o.emptyText || 'No trial selected: tick trials in the table below.'); return; }
      if (!(o.train && S.metric.train) && !o.held) {
        placeholder(S.metric.train ? `Neither ${S.metric.train} nor ${S.metric.series} is switched on.` : `${S.metric.series} is switched off.`);
        return;
      }
      const built = buildChartData(groups, o);
      if (!built.data[0].length) { placeholder(o.waitText || 'No measurements yet.'); return; }
      for (const r of built.legend) if (st.hidden.has(r.key)) for (const si of r.all) built.series[si - 1].show = false;
      const sig = JSON.stringify([o.log, S.metric.axis, built.series.map((s) => s.label + '|' + s.stroke), built.bands.map((b) => b.series)]);
      st.data = built.data;
      box.setAttribute('data-lines', String(groups.length));
      box.setAttribute('data-mode', o.mean ? 'mean' : 'trials');
      box.setAttribute('data-points', String(built.data[0].length));
      if (st.u && sig === st.sig) {
        st.u.setData(built.data, !st.zoomed);
        updateLegend();
        return;
      }
      destroy();
      box.replaceChildren();
      st.zoomed = false;
      const opts = {
        width: width(),
        height,
        scales: {
          x: { time: false },
          y: o.log ? { distr: 3, log: 10, range: logRange } : { range: linRange },
        },
        axes: [
          { label: 'step', stroke: '#555', grid: { stroke: '#eee' }, ticks: { stroke: '#ddd' } },
          { label: S.metric.axis, stroke: '#555', size: 56, grid: { stroke: '#eee' }, ticks: { stroke: '#ddd' },
            filter: o.log ? logSplitFilter : undefined,
            values: (u, splits) => splits.map((v) => (v == null ? '' : fmtTick(v))) },
        ],
        series: [{ label: 'step' }].concat(built.series),
        bands: built.bands,
        legend: { show: false },
        cursor: { drag: { x: true, y: true, uni: 40, setScale: true }, points: { size: 6 } },
        hooks: {
          setCursor: [() => updateLegend()],
          setScale: [(u, key) => {
            if (key !== 'x' || !st.data || !st.data[0].length) return;
            const x = st.data[0];
            const mn = u.scales.x.min, mx = u.scales.x.max;
            st.zoomed = mn > x[0] + 1e-9 || mx < x[x.length - 1] - 1e-9;
            box.setAttribute('data-zoomed', st.zoomed ? 'true' : 'false');
          }],
        },
      };
      st.u = new uPlot(opts, built.data, box);
      st.u.over.addEventListener('dblclick', () => { st.zoomed = false; box.setAttribute('data-zoomed', 'false'); });
      st.sig = sig;
      buildLegend(built.legend, o);
      updateLegend();
    }

    const resize = debounce(() => { if (st.u) { const w = width(); if (w !== st.u.width) st.u.setSize({ width: w, height }); } }, 100);
    if (window.ResizeObserver) { st.ro = new ResizeObserver(resize); st.ro.observe(box); } else window.addEventListener('resize', resize);

    return {
      update,
      resize,
      zoomed: () => st.zoomed,
      destroy() { destroy(); if (st.ro) st.ro.disconnect(); },
      get uplot() { return st.u; },
    };
  }

  let curveChart = null;

  function configLabel(t) {
    const lab = typeof t.label === 'string' ? t.label : '';
    const stripped = lab.replace(/(^|\s)seed=\S+/g, ' ').replace(/\s+/g, ' ').trim();
    return stripped || (t.config_key != null ? 'config ' + String(t.config_key).slice(0, 8) : String(t.id));
  }

  function curveGroups() {
    // in the table's current order, so that "the first N" are the first rows shown
    const ts = sortedIds().filter((id) => S.selected.has(id) && S.visible.has(id)).map((id) => S.byId.get(id));
    let groups;
    if (S.opts.mean) {
      const m = new Map();
      for (const t of ts) {
        const k = String(t.config_key == null ? t.id : t.config_key);
        if (!m.has(k)) m.set(k, { key: 'c:' + k, label: configLabel(t), color: colorOf(k), ids: [] });
        m.get(k).ids.push(t.id);
      }
      groups = Array.from(m.values());
    } else {
      groups = ts.map((t) => ({
        key: 't:' + t.id, label: typeof t.label === 'string' && t.label ? t.label : t.id,
        color: colorOf(t.config_key == null ? t.id : t.config_key), ids: [t.id],
      }));
    }
    const total = groups.length;
    // keep the first MAX_LINES in table order; draw them in API order (stable legend and chart)
    const apiPos = new Map(S.trials.map((t, k) => [t.id, k]));
    groups = groups.slice(0, MAX_LINES);
    for (const g of groups) g.ids.sort((a, b) => apiPos.get(a) - apiPos.get(b));
    groups.sort((a, b) => apiPos.get(a.ids[0]) - apiPos.get(b.ids[0]));
    return { groups, total, trials: ts.length };
  }

  let lastDrawSig = null;

  function drawCurves(force) {
    if (!curveChart) return;
    const { groups, total, trials } = curveGroups();
    const sig = JSON.stringify([S.opts, groups.map((g) => [g.key, g.label, g.color, g.ids.map((id) => { const c = S.curves.get(id); return c ? c.ver || 0 : -1; })])]);
    if (!force && sig === lastDrawSig) return;
    lastDrawSig = sig;
    const box = $('#curves');
    box.setAttribute('data-trials', groups.flatMap((g) => g.ids).join(','));
    const what = S.opts.mean ? 'configurations' : 'trials';
    let info = `${Math.min(total, MAX_LINES)} ${what}` + (S.opts.mean ? ` (${trials} trials)` : '');
    if (total > MAX_LINES) info += ` — showing the first ${MAX_LINES} of ${total} selected`;
    setText($('#curves-info'), info);
    const log = S.opts.log && logAllowed(groups.flatMap((g) => g.ids), S.opts);
    timed('curves', () => curveChart.update(groups, Object.assign({}, S.opts, { log, waitText: 'Waiting for the first measurements…' })));
  }

  /** Fetch (incrementally) the curves of the drawn trials, then redraw. One run at a time. */
  async function refreshCurves() {
    if (S.route && S.route.name !== 'overview') return;
    if (S.curvesBusy) { S.curvesAgain = true; return; }
    S.curvesBusy = true;
    try {
      do {
        S.curvesAgain = false;
        const { groups } = curveGroups();
        const ids = groups.flatMap((g) => g.ids);
        drawCurves();  // what we have now (selection/visibility feel instant)
        const need = ids.filter((id) => { const c = S.curves.get(id); const t = S.byId.get(id); return !c || !c.loaded || (t && num(t.step) != null && t.step !== c.last); });
        if (need.length) { await fetchCurves(need); drawCurves(); }
      } while (S.curvesAgain);
    } finally {
      S.curvesBusy = false;
    }
  }

  // ------------------------------------------------------------------ parallel coordinates

  const PC = (function () {
    const P = { sig: null, axes: [], lines: new Map(), order: [], svg: null, gOn: null, gDim: null, drag: null, geom: null };
    const H = 340, TOP = 34, BOTTOM = 46, NULLPAD = 18;

    function niceTicks(lo, hi, n) {
      const span = hi - lo;
      if (!(span > 0)) return [lo];
      const step0 = span / n;
      const mag = Math.pow(10, Math.floor(Math.log10(step0)));
      const r = step0 / mag;
      const step = (r < 1.5 ? 1 : r < 3 ? 2 : r < 7 ? 5 : 10) * mag;
      const out = [];
      for (let v = Math.ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-9; v += step) out.push(parseFloat(v.toPrecision(12)));
      return out;
    }

    function logTicks(lo, hi) {
      if (hi / lo < 20) return niceTicks(lo, hi, 5);
      let out = [];
      for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) {
        for (const m of [1, 2, 5]) { const v = m * Math.pow(10, e); if (v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9)) out.push(parseFloat(v.toPrecision(12))); }
      }
      if (out.length > 8) out = out.filter((v) => Math.abs(Math.log10(v) - Math.round(Math.log10(v))) < 1e-9);
      return out;
    }

    function axisDefs() {
      const defs = S.paramCols.map((p) => ({ name: 'param-' + p, title: p, param: p, get: (t) => pv(t, p) }));
      defs.push({ name: 'heldout', title: S.metric.column, ppl: S.metric.builtin, objective: true, get: heldOf });
      return defs;
    }

    function makeAxis(def, x, y0, y1) {
      const vals = S.trials.map(def.get);
      const nonNull = vals.filter((v) => v !== null && v !== undefined && !(typeof v === 'number' && !Number.isFinite(v)));
      const hasNull = nonNull.length < vals.length;
      const ax = { name: def.name, title: def.title, get: def.get, x, y0, y1, hasNull, nullY: y1 + NULLPAD };
      const allNum = nonNull.length > 0 && nonNull.every((v) => typeof v === 'number');
      if (allNum || def.objective) {
        let lo = Infinity, hi = -Infinity;
        for (const v of nonNull) { if (v < lo) lo = v; if (v > hi) hi = v; }
        if (!nonNull.length) { lo = def.ppl ? 1 : 0; hi = def.ppl ? 10 : 1; }
        const sw = S.sweep || {};
        const ranged = Array.isArray(sw.ranged) ? sw.ranged : [];
        const logR = Array.isArray(sw.log_ranged) ? sw.log_ranged : [];
        let log = def.ppl || logR.includes(def.param) || (!ranged.includes(def.param) && lo > 0 && hi / lo >= 50);
        if (!(lo > 0)) log = false;
        const f = log ? Math.log10 : (v) => v;
        const a = f(lo), b = f(hi);
        ax.kind = 'num';
        ax.log = log;
        ax.lo = lo; ax.hi = hi;
        ax.pos = (v) => {
          if (typeof v !== 'number' || !Number.isFinite(v) || (log && !(v > 0))) return ax.nullY;
          return b === a ? (y0 + y1) / 2 : y1 - ((f(v) - a) / (b - a)) * (y1 - y0);
        };
        ax.inv = (py) => {
          if (b === a) return lo;
          const fv = a + ((y1 - py) / (y1 - y0)) * (b - a);
          return log ? Math.pow(10, fv) : fv;
        };
        const ticks = lo === hi ? [lo] : (log ? logTicks(lo, hi) : niceTicks(lo, hi, 5));
        ax.ticks = ticks.map((v) => ({ y: ax.pos(v), label: fmtTick(v) }));
        // label the ends of the range when no tick is close
        for (const v of lo === hi ? [] : [lo, hi]) {
          const y = ax.pos(v);
          if (!ax.ticks.some((tk) => Math.abs(tk.y - y) < 12)) ax.ticks.push({ y, label: fmtTick(v), end: true });
        }
      } else {
        const m = new Map();
        for (const v of nonNull) { const k = valueKey(v); if (!m.has(k)) m.set(k, v); }
        const cats = Array.from(m.entries()).sort((p, q) => compareValues(p[1], q[1]));
        ax.kind = 'cat';
        const n = cats.length;
        const posOf = new Map();
        cats.forEach(([k], i) => posOf.set(k, n === 1 ? (y0 + y1) / 2 : y1 - (i / (n - 1)) * (y1 - y0)));
        ax.pos = (v) => { const k = valueKey(v); return posOf.has(k) ? posOf.get(k) : ax.nullY; };
        const every = Math.max(1, Math.ceil(n / 16));
        ax.ticks = cats.filter((_, i) => i % every === 0 || i === n - 1).map(([k, v]) => ({ y: posOf.get(k), label: fmtParam(v) }));
      }
      return ax;
    }

    /** Colour by rank of the metric: darkest = best (lowest, or highest when higher is better). */
    function heldColorScale() {
      const vals = S.trials.map(scoreOf).filter((v) => v != null).sort((a, b) => a - b);
      return (v) => {
        if (v == null) return '#b9b9b9';
        let lo = 0, hi = vals.length;
        while (lo < hi) { const mid = (lo + hi) >> 1; if (vals[mid] < v) lo = mid + 1; else hi = mid; }
        const t = vals.length > 1 ? lo / (vals.length - 1) : 0;  // 0 = best
        const dark = [8, 48, 107], light = [158, 202, 225];
        return rgb(dark.map((d, k) => Math.round(d + (light[k] - d) * t)));
      };
    }

    function short(s, max) { s = String(s); return s.length > max ? s.slice(0, Math.max(1, max - 1)) + '…' : s; }

    function render(force) { timed('parallel', () => render0(force)); }

    function render0(force) {
      const box = $('#parallel-chart');
      if (!box || (S.route && S.route.name !== 'overview')) return;
      const W = Math.max(360, Math.floor(box.clientWidth || 900));
      const defs = axisDefs();
      const sig = JSON.stringify([W, S.metric.key, defs.map((d) => d.name), S.sweep && S.sweep.log_ranged, S.trials.map((t) => [t.id, t.label].concat(defs.map((d) => d.get(t))))]);
      if (!force && sig === P.sig) { updateClasses(); return; }
      P.sig = sig;
      if (!S.trials.length) { box.replaceChildren(el('div', { class: 'chart-empty', text: 'No trials yet.' })); P.svg = null; updateCount(); return; }

      const left = 78, right = 64;
      const n = defs.length;
      const spacing = n > 1 ? (W - left - right) / (n - 1) : 0;
      const y0 = TOP, y1 = H - BOTTOM;
      P.axes = defs.map((d, i) => makeAxis(d, n > 1 ? left + i * spacing : W / 2, y0, y1));
      P.geom = { W, H, y0, y1 };
      const color = heldColorScale();

      const svg = svgEl('svg', { width: W, height: H, viewBox: `0 0 ${W} ${H}`, class: 'pc-svg', role: 'img', 'aria-label': 'parallel coordinates of the trials' });
      const gDim = svgEl('g', { class: 'pc-lines-dim' });
      const gOn = svgEl('g', { class: 'pc-lines-on' });
      svg.appendChild(gDim);
      svg.appendChild(gOn);
      P.lines = new Map();
      // best (darkest) drawn last = on top
      P.order = S.trials.slice().sort((a, b) => { const va = scoreOf(a), vb = scoreOf(b); if (va == null) return vb == null ? 0 : -1; if (vb == null) return 1; return vb - va; }).map((t) => t.id);
      for (const id of P.order) {
        const t = S.byId.get(id);
        let d = '';
        P.axes.forEach((ax, i) => { const y = ax.pos(ax.get(t)); d += (i ? 'L' : 'M') + ax.x.toFixed(1) + ' ' + y.toFixed(1); });
        const path = svgEl('path', { d, class: 'pc-line', stroke: color(scoreOf(t)), 'data-trial-id': t.id });
        path.appendChild(svgEl('title', null, `${typeof t.label === 'string' ? t.label : t.id} — ${S.metric.series} ${fmtMetric(heldOf(t))}`));
        P.lines.set(id, path);
      }

      for (const ax of P.axes) {
        const g = svgEl('g', { class: 'pc-axis', 'data-axis': ax.name });
        g.appendChild(svgEl('line', { x1: ax.x, x2: ax.x, y1: y0, y2: y1, class: 'pc-axis-line' }));
        const maxChars = Math.max(6, Math.floor((n > 1 ? spacing : W) / 7));
        const lastAxis = ax === P.axes[P.axes.length - 1] && n > 1;
        const title = svgEl('text', { x: lastAxis ? Math.min(ax.x + 10, W - 4) : ax.x, y: y0 - 14, class: 'pc-title', 'text-anchor': lastAxis ? 'end' : 'middle' }, short(ax.title + (ax.log ? ' (log)' : ''), maxChars));
        title.appendChild(svgEl('title', null, ax.title));
        g.appendChild(title);
        for (const tk of ax.ticks) {
          g.appendChild(svgEl('line', { x1: ax.x - 4, x2: ax.x, y1: tk.y, y2: tk.y, class: 'pc-tick' }));
          const tx = svgEl('text', { x: ax.x - 7, y: tk.y + 4, class: 'pc-tick-label' + (tk.end ? ' pc-end' : ''), 'text-anchor': 'end' }, short(tk.label, 12));
          if (tk.label.length > 12) tx.appendChild(svgEl('title', null, tk.label));
          g.appendChild(tx);
        }
        if (ax.hasNull) g.appendChild(svgEl('text', { x: ax.x - 7, y: ax.nullY + 4, class: 'pc-tick-label pc-null', 'text-anchor': 'end' }, 'n/a'));
        ax.brushRect = svgEl('rect', { x: ax.x - 9, width: 18, y: 0, height: 0, class: 'pc-brush', visibility: 'hidden' });
        g.appendChild(ax.brushRect);
        const hit = svgEl('rect', { x: ax.x - 14, width: 28, y: y0 - 6, height: y1 - y0 + 12 + (ax.hasNull ? NULLPAD : 0), class: 'pc-hit', 'data-axis': ax.name });
        hit.appendChild(svgEl('title', null, 'drag to brush ' + ax.title + '; click to clear'));
        g.appendChild(hit);
        svg.appendChild(g);
      }
      svg.addEventListener('pointerdown', (e) => {
        // the nearest axis within 16 px of the pointer
        const r = svg.getBoundingClientRect();
        const x = e.clientX - r.left, y = e.clientY - r.top;
        let best = null, bd = 16;
        for (const ax of P.axes) { const d = Math.abs(ax.x - x); if (d <= bd) { bd = d; best = ax; } }
        if (best && y >= best.y0 - 8 && y <= (best.hasNull ? best.nullY + 8 : best.y1 + 8)) startDrag(e, best);
      });
      svg.addEventListener('pointermove', moveDrag);
      svg.addEventListener('pointerup', endDrag);
      svg.addEventListener('pointercancel', endDrag);
      P.svg = svg; P.gOn = gOn; P.gDim = gDim;
      // keep brushes of axes that still exist, redraw them from their values
      for (const name of Object.keys(S.brushes)) {
        const ax = P.axes.find((a) => a.name === name);
        if (!ax) { delete S.brushes[name]; continue; }
        const b = S.brushes[name];
        b.ax = ax;
        drawBrush(ax, b);
      }
      box.replaceChildren(svg);
      P.lastVis = null;
      updateClasses();
    }

    function svgY(e) { const r = P.svg.getBoundingClientRect(); return e.clientY - r.top; }

    function clampY(ax, y) { return Math.max(ax.y0, Math.min(ax.hasNull ? ax.nullY + 6 : ax.y1, y)); }

    function startDrag(e, ax) {
      if (e.button !== 0) return;
      e.preventDefault();
      const y = clampY(ax, svgY(e));
      P.drag = { ax, ya: y, yb: y, moved: false, id: e.pointerId };
      try { P.svg.setPointerCapture(e.pointerId); } catch (err) { /* ignore */ }
    }

    function brushFrom(ax, ya, yb) {
      const top = Math.min(ya, yb), bot = Math.max(ya, yb);
      const inNull = ax.hasNull && ax.nullY >= top - 4 && ax.nullY <= bot + 4;
      const b = { ax, top, bot };
      if (ax.kind === 'num') {
        // 2 px of slack so that a brush started at the end of an axis keeps the end value
        const vtop = ax.inv(Math.max(ax.y0 - 2, Math.min(ax.y1 + 2, top - 2))), vbot = ax.inv(Math.max(ax.y0 - 2, Math.min(ax.y1 + 2, bot + 2)));
        const touchesAxis = top <= ax.y1;
        b.touches = touchesAxis;
        b.inNull = inNull;
        b.lo = Math.min(vtop, vbot); b.hi = Math.max(vtop, vbot);
        b.test = (t) => {
          const v = ax.get(t);
          if (typeof v !== 'number' || !Number.isFinite(v)) return inNull;
          return touchesAxis && v >= b.lo * (1 - 1e-12) - 1e-12 && v <= b.hi * (1 + 1e-12) + 1e-12;
        };
        b.num = true;
      } else {
        const keys = new Set();
        for (const t of S.trials) { const v = ax.get(t); const y = ax.pos(v); if (y >= top - 0.5 && y <= bot + 0.5) keys.add(valueKey(v)); }
        b.frac = [(top - ax.y0) / (ax.y1 - ax.y0), (bot - ax.y0) / (ax.y1 - ax.y0)];
        b.test = (t) => keys.has(valueKey(ax.get(t)));
      }
      return b;
    }

    function drawBrush(ax, b) {
      let top, bot;
      if (b.num) {
        // numeric brushes keep their values when the axis domain changes
        const clamp = (y) => Math.max(ax.y0, Math.min(ax.y1, y));
        if (b.touches) { top = clamp(ax.pos(b.hi)); bot = clamp(ax.pos(b.lo)); } else { top = ax.nullY - 6; bot = ax.nullY - 6; }
        if (b.inNull) bot = ax.nullY + 6;
      } else if (b.frac) {
        top = ax.y0 + b.frac[0] * (ax.y1 - ax.y0);
        bot = ax.y0 + b.frac[1] * (ax.y1 - ax.y0);
      } else { top = b.top; bot = b.bot; }
      ax.brushRect.setAttribute('y', String(Math.min(top, bot)));
      ax.brushRect.setAttribute('height', String(Math.max(2, Math.abs(bot - top))));
      ax.brushRect.setAttribute('visibility', 'visible');
    }

    const liveApply = rafOnce(() => applyVisibility(false));

    function moveDrag(e) {
      const d = P.drag;
      if (!d || e.pointerId !== d.id) return;
      d.yb = clampY(d.ax, svgY(e));
      if (Math.abs(d.yb - d.ya) >= 3) d.moved = true;
      if (!d.moved) return;
      const b = brushFrom(d.ax, d.ya, d.yb);
      S.brushes[d.ax.name] = b;
      d.ax.brushRect.setAttribute('y', String(b.top));
      d.ax.brushRect.setAttribute('height', String(Math.max(2, b.bot - b.top)));
      d.ax.brushRect.setAttribute('visibility', 'visible');
      liveApply();
    }

    function endDrag(e) {
      const d = P.drag;
      if (!d || e.pointerId !== d.id) return;
      P.drag = null;
      try { P.svg.releasePointerCapture(e.pointerId); } catch (err) { /* ignore */ }
      if (!d.moved) {
        delete S.brushes[d.ax.name];
        d.ax.brushRect.setAttribute('visibility', 'hidden');
      } else {
        S.brushes[d.ax.name] = brushFrom(d.ax, d.ya, d.yb);
      }
      box().setAttribute('data-brushes', Object.keys(S.brushes).join(','));
      applyVisibility(true);
    }

    function box() { return $('#parallel'); }

    function clearBrushes() {
      S.brushes = {};
      for (const ax of P.axes) if (ax.brushRect) ax.brushRect.setAttribute('visibility', 'hidden');
      box().setAttribute('data-brushes', '');
      applyVisibility(true);
    }

    function updateClasses() {
      updateCount();
      if (!P.svg) return;
      const key = P.order.map((id) => (S.visible.has(id) ? '1' : '0')).join('');
      if (key === P.lastVis) return;
      P.lastVis = key;
      const on = document.createDocumentFragment(), dim = document.createDocumentFragment();
      for (const id of P.order) {
        const path = P.lines.get(id);
        if (!path) continue;
        const v = S.visible.has(id);
        path.setAttribute('class', v ? 'pc-line' : 'pc-line pc-dim');
        (v ? on : dim).appendChild(path);
      }
      P.gDim.appendChild(dim);
      P.gOn.appendChild(on);
    }

    function updateCount() {
      setText($('#parallel-count'), `${S.visible.size} of ${S.trials.length} trials`);
    }

    return { render, updateClasses, clearBrushes };
  }());

  // ------------------------------------------------------------------ overview header

  /* The trade-off front (/api/sweep's `front`): the first two objectives of each
     configuration, the first on the y axis; a point opens its configuration's first trial. */
  let frontSig = null;
  function renderFront() {
    const card = $('#front-card');
    const f = S.sweep && S.sweep.front;
    const ok = f && Array.isArray(f.configurations) && Array.isArray(f.objectives) && f.objectives.length >= 2;
    card.hidden = !ok;
    if (!ok) return;
    const sig = JSON.stringify(f);
    if (sig === frontSig) return;
    frontSig = sig;
    const [oy, ox] = f.objectives.map((o) => String(o && o.name));
    setText($('#front-title'), `Trade-off: ${oy} against ${ox}`);
    const pts = f.configurations.filter((c) => Array.isArray(c.values) && num(c.values[0]) != null && num(c.values[1]) != null);
    setText($('#front-info'), `${pts.filter((c) => c.on_front).length} of ${f.configurations.length} configurations on the front`);
    const box = $('#front-chart');
    box.textContent = '';
    const W = 640, H = 340, L = 70, R = 16, T = 12, B = 44;
    const svg = svgEl('svg', { viewBox: `0 0 ${W} ${H}`, class: 'front-svg', role: 'img', 'aria-label': `${oy} against ${ox}` });
    box.appendChild(svg);
    if (!pts.length) { svg.appendChild(svgEl('text', { x: W / 2, y: H / 2, 'text-anchor': 'middle', class: 'muted' }, 'no configuration has both values yet')); return; }
    const span = (v) => {
      const lo = Math.min(...v), hi = Math.max(...v);
      const d = hi > lo ? (hi - lo) * 0.06 : Math.max(Math.abs(lo), 1) * 0.1;
      return [lo - d, hi + d];
    };
    const [x0, x1] = span(pts.map((c) => c.values[1])), [y0, y1] = span(pts.map((c) => c.values[0]));
    const sx = (v) => L + (v - x0) / (x1 - x0) * (W - L - R);
    const sy = (v) => T + (y1 - v) / (y1 - y0) * (H - T - B);
    svg.appendChild(svgEl('line', { x1: L, y1: H - B, x2: W - R, y2: H - B, class: 'front-axis' }));
    svg.appendChild(svgEl('line', { x1: L, y1: T, x2: L, y2: H - B, class: 'front-axis' }));
    for (let k = 0; k <= 4; k++) {
      const xv = x0 + (x1 - x0) * k / 4, yv = y0 + (y1 - y0) * k / 4;
      svg.appendChild(svgEl('text', { x: sx(xv), y: H - B + 16, 'text-anchor': 'middle', class: 'front-tick' }, fmtTick(xv)));
      svg.appendChild(svgEl('text', { x: L - 6, y: sy(yv) + 4, 'text-anchor': 'end', class: 'front-tick' }, fmtTick(yv)));
    }
    svg.appendChild(svgEl('text', { x: (L + W - R) / 2, y: H - 6, 'text-anchor': 'middle', class: 'front-name' }, ox));
    svg.appendChild(svgEl('text', { x: 14, y: (T + H - B) / 2, 'text-anchor': 'middle', class: 'front-name', transform: `rotate(-90 14 ${(T + H - B) / 2})` }, oy));
    const line = pts.filter((c) => c.on_front).sort((a, b) => a.values[1] - b.values[1] || a.values[0] - b.values[0]);
    if (line.length > 1) svg.appendChild(svgEl('polyline', { points: line.map((c) => `${sx(c.values[1])},${sy(c.values[0])}`).join(' '), class: 'front-line' }));
    // Faded first, so the front's points are drawn over them.
    const order = pts.slice().sort((a, b) => Number(a.on_front) - Number(b.on_front));
    for (const c of order) {
      const state = c.on_front ? 'on-front' : (c.feasible ? 'dominated' : 'infeasible');
      const dot = svgEl('circle', { cx: sx(c.values[1]), cy: sy(c.values[0]), r: c.on_front ? 6 : 5, class: 'front-point ' + state, 'data-label': String(c.label), tabindex: 0 });
      const broken = Array.isArray(c.broken) && c.broken.length ? `\nbreaks ${c.broken.join(', ')}` : '';
      dot.appendChild(svgEl('title', null, `${c.label}\n${oy} ${fmtValue(c.values[0])}\n${ox} ${fmtValue(c.values[1])}${broken}`));
      const id = Array.isArray(c.trials) && c.trials.length ? String(c.trials[0]) : null;
      if (id) {
        const open = () => { location.hash = trialHref(id); };
        dot.addEventListener('click', open);
        dot.addEventListener('keydown', (e) => { if (e.key === 'Enter') open(); });
      }
      svg.appendChild(dot);
    }
  }

  function renderHeader() {
    const sw = S.sweep;
    if (!sw) return;
    renderFront();
    const name = typeof sw.name === 'string' ? sw.name : '';
    setText($('#sweep-name'), name || '(unnamed sweep)');
    setText($('#topbar-title'), name);
    if (S.route && S.route.name === 'overview') document.title = (name ? name + ' — ' : '') + 'sweep serve';
    const search = (SEARCH_WORD[sw.search] || (sw.search ? String(sw.search) + ' search' : 'search')) + (sw.early_stopping ? ' with early stopping' : '');
    setText($('#sweep-search'), search);

    const meta = [];
    const M = S.metric;
    if (!M.builtin) {
      if (typeof sw.program === 'string' && sw.program) meta.push('program ' + sw.program);
      meta.push(`metric ${M.name} (${M.mode === 'max' ? 'higher' : 'lower'} is better)`);
    }
    if (sw.corpus != null && (M.builtin || sw.corpus !== '')) meta.push('corpus ' + String(sw.corpus));
    if (sw.grid_file != null) meta.push('grid ' + String(sw.grid_file));
    if (Array.isArray(sw.axes) && sw.axes.length) meta.push('swept ' + sw.axes.map(String).join(' × '));
    if (sw.results != null) meta.push('results ' + String(sw.results));
    if (sw.started_at != null) meta.push('started ' + String(sw.started_at));
    setText($('#sweep-meta'), meta.join(' · '));

    const counts = sw.counts && typeof sw.counts === 'object' ? sw.counts : {};
    const total = num(sw.total) != null ? sw.total : STATUSES.reduce((a, s) => a + (num(counts[s]) || 0), 0);
    const box = $('#sweep-counts');
    if (!box._built) {
      box._built = true;
      box._spans = {};
      for (const s of STATUSES) {
        const sp = el('span', { class: 'count status-' + s, 'data-count': s }, el('b'), ' ' + STATUS_WORD[s]);
        box._spans[s] = sp;
        box.appendChild(sp);
      }
      box._total = el('span', { class: 'count-total', 'data-count': 'total' });
      box.appendChild(box._total);
    }
    for (const s of STATUSES) {
      const n = num(counts[s]) || 0;
      setText(box._spans[s].firstChild, String(n));
      box._spans[s].classList.toggle('zero', n === 0);
    }
    setText(box._total, `of ${total} trials`);

    const done = ['completed', 'failed', 'stopped', 'diverged', 'damaged', 'partial'].reduce((a, s) => a + (num(counts[s]) || 0), 0);
    const bar = $('#sweep-progress .progress-bar');
    const pct = total ? Math.min(100, (100 * done) / total) : 0;
    bar.style.width = pct.toFixed(1) + '%';

    const running = num(counts.running) || 0, pending = num(counts.pending) || 0;
    let eta;
    if (running === 0 && pending === 0) eta = 'finished';
    else if (num(sw.eta_seconds) != null) eta = 'ETA ' + fmtDuration(sw.eta_seconds);
    else eta = 'ETA —';
    setText($('#sweep-eta'), eta);
    setText($('#sweep-wall'), num(sw.wall_seconds) != null ? ` · wall time ${fmtDuration(sw.wall_seconds)}` : '');
    const busy = sw.busy && num(sw.busy.share) != null ? sw.busy : null;
    setText($('#sweep-busy'), busy
      ? ` · workers busy ${Math.round(100 * busy.share)}% (${fmtDuration(busy.worker_seconds)} of worker time over ${busy.workers} × ${fmtDuration(busy.wall_seconds)})`
      : '');

    const verdict = Array.isArray(sw.verdict) ? sw.verdict.map(String) : [];
    const vsig = JSON.stringify(verdict);
    const ul = $('#sweep-verdict');
    if (ul._sig !== vsig) {
      ul._sig = vsig;
      ul.replaceChildren(...verdict.filter((l) => l.trim()).map((l) => {
        const li = el('li');
        li.appendChild(renderInline(l.replace(/^\s*[-*]\s+/, ''), INLINE_VERDICT));
        return li;
      }));
      ul.hidden = verdict.length === 0;
    }
  }

  // ------------------------------------------------------------------ summary

  async function refreshSummary() {
    const body = $('#summary-body');
    try {
      const d = await getJSON('/api/summary');
      const md = typeof d.markdown === 'string' ? d.markdown : '';
      S.summaryAt = Date.now();
      setText($('#summary-status'), 'updated ' + new Date().toLocaleTimeString());
      if (md === S.summaryMd) return;
      S.summaryMd = md;
      if (!md.trim()) body.replaceChildren(el('p', { class: 'muted', text: 'No analysis yet.' }));
      else body.replaceChildren(renderMarkdown(md));
    } catch (e) {
      S.summaryAt = Date.now();
      if (e.status && e.status < 500) {
        S.summaryMd = null;
        body.replaceChildren(el('p', { class: 'muted', text: 'No analysis yet: ' + e.message }));
      } else {
        setText($('#summary-status'), 'could not refresh: ' + e.message);
      }
    }
  }

  // ------------------------------------------------------------------ overview data

  function refreshTrials() {
    if (S.trialsInflight) return S.trialsInflight;
    S.trialsInflight = getJSON('/api/trials').then((d) => {
      S.trialsAt = Date.now();
      timed('trials', () => ingestTrials(d.trials));
      refreshCurves();
    }).finally(() => { S.trialsInflight = null; });
    return S.trialsInflight;
  }

  // ------------------------------------------------------------------ trial page

  const TP = { id: null, page: null, chart: null, sigs: {}, data: null };

  function flatten(obj, prefix, out, depth) {
    out = out || [];
    for (const k of Object.keys(obj)) {
      const v = obj[k];
      const key = prefix ? prefix + '.' + k : k;
      if (v && typeof v === 'object' && !Array.isArray(v) && depth < 3) flatten(v, key, out, depth + 1);
      else out.push([key, v]);
    }
    return out;
  }

  function kvTable(obj, id) {
    const table = el('table', { class: 'kv', id });
    const tbody = el('tbody');
    for (const [k, v] of flatten(obj, '', [], 0)) {
      tbody.appendChild(el('tr', { 'data-key': k }, el('th', { scope: 'row', text: k }), el('td', { text: fmtValue(v) })));
    }
    table.appendChild(tbody);
    return table;
  }

  function copyButton(getText) {
    const b = el('button', { type: 'button', class: 'btn copy', text: 'copy' });
    b.addEventListener('click', async () => {
      const text = getText();
      try {
        await navigator.clipboard.writeText(text);
        b.textContent = 'copied';
      } catch (e) {
        const ta = el('textarea', { class: 'offscreen' });
        ta.value = text;
        document.body.appendChild(ta);
        ta.select();
        try { document.execCommand('copy'); b.textContent = 'copied'; } catch (e2) { b.textContent = 'copy failed'; }
        ta.remove();
      }
      setTimeout(() => { b.textContent = 'copy'; }, 1500);
    });
    return b;
  }

  function buildTrialPage(id) {
    const page = el('div', { id: 'trial-page', 'data-testid': 'trial-page', 'data-trial-id': id });
    const back = el('a', { href: '#/', id: 'back-link', class: 'back', 'data-testid': 'back-link', text: '← all trials' });
    const head = el('section', { class: 'card', id: 'trial-head' },
      back,
      el('div', { class: 'title-row' },
        el('h1', { id: 'trial-label', 'data-testid': 'trial-label', text: id }),
        el('span', { id: 'trial-status', class: 'pill status', 'data-testid': 'trial-status' })),
      el('p', { id: 'trial-meta', class: 'muted' }),
      el('p', { id: 'trial-reason', class: 'reason', hidden: true }),
      el('p', { id: 'trial-error', class: 'error', hidden: true }));
    const curveCard = el('section', { class: 'card', id: 'trial-curve-card' },
      el('div', { class: 'card-head' }, el('h2', { text: S.metric.builtin ? 'Learning curve' : 'Learning curve · ' + S.metric.name }), el('span', { id: 'trial-curve-info', class: 'muted' })),
      el('div', { class: 'controls' },
        el('label', null, el('input', { type: 'checkbox', id: 'trial-opt-log', checked: S.opts.log }), ' log scale'),
        el('label', { class: 'smooth' }, 'smoothing ', el('input', { type: 'range', id: 'trial-opt-smooth', min: 0, max: 0.99, step: 0.01, value: S.opts.smooth }),
          ' ', el('output', { id: 'trial-opt-smooth-value', text: S.opts.smooth.toFixed(2) })),
        el('span', { class: 'hint', text: 'drag to zoom · double-click to reset' })),
      el('div', { id: 'trial-curve', class: 'chart', 'data-testid': 'trial-curve' }),
      el('div', { class: 'legend-wrap' }, el('table', { id: 'trial-curve-legend', class: 'legend' })));
    const grid = el('div', { class: 'grid2' },
      el('section', { class: 'card', id: 'trial-config-card' }, el('h2', { text: 'Configuration' }), el('div', { id: 'trial-config-box' })),
      el('section', { class: 'card', id: 'trial-result-card' }, el('h2', { text: 'Result' }), el('div', { id: 'trial-result-box' })));
    const sample = el('section', { class: 'card', id: 'trial-sample-card' },
      el('h2', { text: 'Sample' }), el('p', { id: 'trial-sample-meta', class: 'muted' }),
      el('pre', { id: 'trial-sample', class: 'sample', 'data-testid': 'trial-sample' }));
    const files = el('section', { class: 'card', id: 'trial-files-card' },
      el('h2', { text: 'Files' }), el('ul', { id: 'trial-files', class: 'files', 'data-testid': 'trial-files' }));
    const cmds = el('section', { class: 'card', id: 'trial-commands-card' },
      el('h2', { text: 'Commands' }),
      el('h3', { text: 'Resume' }),
      el('div', { class: 'cmd' }, el('pre', null, el('code', { id: 'trial-resume-command', 'data-testid': 'trial-resume-command' })), copyButton(() => $('#trial-resume-command').textContent)),
      el('h3', { id: 'trial-sample-command-head', text: 'Sample' }),
      el('div', { class: 'cmd', id: 'trial-sample-command-box' }, el('pre', null, el('code', { id: 'trial-sample-command', 'data-testid': 'trial-sample-command' })), copyButton(() => $('#trial-sample-command').textContent)));
    page.append(head, curveCard, grid, sample, files, cmds);

    $('#trial-opt-log', page).addEventListener('change', (e) => { S.userLog = true; S.opts.log = e.target.checked; $('#opt-log').checked = S.opts.log; drawTrialCurve(); });
    const sm = $('#trial-opt-smooth', page);
    sm.addEventListener('input', () => {
      S.userSmooth = true;
      S.opts.smooth = parseFloat(sm.value) || 0;
      setText($('#trial-opt-smooth-value'), S.opts.smooth.toFixed(2));
      $('#opt-smooth').value = String(S.opts.smooth);
      setText($('#opt-smooth-value'), S.opts.smooth.toFixed(2));
      smoothTrialSoon();
    });
    return page;
  }

  const smoothTrialSoon = debounce(() => drawTrialCurve(), 60);

  function sectionSig(name, v) {
    const s = JSON.stringify(v === undefined ? null : v);
    if (TP.sigs[name] === s) return false;
    TP.sigs[name] = s;
    return true;
  }

  /** The built-in model's fields of a result, always empty for a program trial. */
  const MODEL_RESULT = ['parameters', 'final_train_ppl', 'final_heldout_ppl', 'best_heldout_ppl', 'diverged_at_step', 'overfitting'];

  /** A program trial's result without the model's empty fields. */
  function programResult(result) {
    const out = {};
    for (const k of Object.keys(result)) if (!(MODEL_RESULT.includes(k) && result[k] == null)) out[k] = result[k];
    return out;
  }

  function fillTrialPage(d) {
    const id = TP.id;
    TP.data = d;
    const label = typeof d.label === 'string' && d.label ? d.label : id;
    setText($('#trial-label'), label);
    document.title = label + ' — sweep serve';
    const status = d.status == null ? 'unknown' : String(d.status);
    const st = $('#trial-status');
    setText(st, status);
    st.className = 'pill status status-' + status.replace(/[^a-z]/gi, '');
    st.setAttribute('data-status', status);
    const c = S.curves.get(id);
    const t = S.byId.get(id);
    const meta = ['id ' + id];
    const lastStep = c && c.last ? c.last : t && num(t.step) != null ? t.step : null;
    const steps = t && num(t.steps) != null ? t.steps : (d.config && d.config.params && num(d.config.params.steps));
    if (lastStep != null) meta.push(`step ${lastStep}${steps != null ? '/' + steps : ''}`);
    // a program trial: its metric (no sample: only the built-in model writes one)
    const program = !!(d.config && typeof d.config === 'object' && d.config.program);
    if (program && !S.metric.builtin) {
      // result.json's metric once the trial ended, else the trial's row (where it is now)
      const rm = d.result && d.result.metric && typeof d.result.metric === 'object' ? d.result.metric : null;
      const last = rm ? num(rm.last) : t ? heldOf(t) : null;
      const best = rm ? num(rm.best) : t ? num(t[S.metric.keys.best]) : null;
      const bestStep = rm ? num(rm.best_step) : t ? num(t[S.metric.keys.best + '_step']) : null;
      if (last != null) meta.push(`${S.metric.name} ${fmtMetric(last)}`);
      if (best != null) meta.push(`best ${fmtMetric(best)}` + (bestStep != null ? ` at step ${bestStep}` : ''));
    }
    setText($('#trial-meta'), meta.join(' · '));
    $('#trial-sample-card').hidden = program;
    $('#trial-sample-command-head').hidden = program;
    $('#trial-sample-command-box').hidden = program;
    const reason = (typeof d.reason === 'string' && d.reason) || (d.result && typeof d.result.reason === 'string' && d.result.reason) || '';
    const rp = $('#trial-reason');
    setText(rp, reason ? 'reason: ' + reason : '');
    rp.hidden = !reason;

    if (sectionSig('config', d.config)) {
      const box = $('#trial-config-box');
      if (d.config && typeof d.config === 'object') box.replaceChildren(kvTable(d.config, 'trial-config'));
      else box.replaceChildren(el('p', { class: 'muted', text: 'No configuration.' }));
    }
    if (sectionSig('result', d.result)) {
      const box = $('#trial-result-box');
      if (d.result && typeof d.result === 'object') box.replaceChildren(kvTable(program ? programResult(d.result) : d.result, 'trial-result'));
      else box.replaceChildren(el('p', { class: 'muted', text: 'No result yet.' }));
    }
    if (sectionSig('sample', d.sample)) {
      const pre = $('#trial-sample');
      const metaP = $('#trial-sample-meta');
      if (d.sample && typeof d.sample === 'object') {
        pre.textContent = typeof d.sample.text === 'string' ? d.sample.text : '';
        const bits = [];
        for (const k of Object.keys(d.sample)) if (k !== 'text') bits.push(`${k}: ${fmtValue(d.sample[k])}`);
        metaP.textContent = bits.join(' · ');
        pre.hidden = false;
      } else {
        pre.textContent = '';
        pre.hidden = true;
        metaP.textContent = 'No sample yet (written when the trial completes).';
      }
    }
    if (sectionSig('files', d.files)) {
      const ul = $('#trial-files');
      const files = Array.isArray(d.files) ? d.files.map(String) : [];
      ul.replaceChildren(...files.map((f) => el('li', null, el('a', { href: trialFileUrl(id, f), target: '_blank', rel: 'noopener', text: f }))));
      if (!files.length) ul.appendChild(el('li', { class: 'muted', text: 'no files yet' }));
    }
    setText($('#trial-resume-command'), typeof d.resume_command === 'string' ? d.resume_command : '');
    setText($('#trial-sample-command'), typeof d.sample_command === 'string' ? d.sample_command : '');
  }

  function drawTrialCurve() {
    if (!TP.chart) return;
    const id = TP.id;
    const t = S.byId.get(id) || (TP.data ? { id, label: TP.data.label, config_key: null } : { id });
    const label = typeof t.label === 'string' && t.label ? t.label : id;
    const color = t.config_key != null ? colorOf(t.config_key) : PALETTE[0];
    const log = S.opts.log && logAllowed([id], { train: true, held: true });
    TP.chart.update([{ key: 't:' + id, label, color, ids: [id] }],
      { log, smooth: S.opts.smooth, train: true, held: true, mean: false, waitText: 'No measurements yet.' });
    const c = S.curves.get(id);
    setText($('#trial-curve-info'), c && c.step.length ? `${c.step.length} rows · last step ${c.last}` : '');
  }

  async function refreshTrialPage() {
    const id = TP.id;
    if (!id) return;
    try {
      const d = await getJSON('/api/trial?id=' + encodeURIComponent(id));
      if (TP.id !== id) return;
      $('#trial-error').hidden = true;
      fillTrialPage(d);
    } catch (e) {
      if (TP.id !== id) return;
      const p = $('#trial-error');
      if (p) { setText(p, 'Could not load this trial: ' + e.message); p.hidden = false; }
      if (e.status === 404) return;
    }
    await fetchCurve(id, true);
    if (TP.id !== id) return;
    drawTrialCurve();
    if (TP.data) fillTrialPage(TP.data);  // step in the meta line
  }

  function showTrial(id) {
    if (TP.id === id && TP.page) return;
    leaveTrial();
    if (S.route && S.route.name === 'overview') S.overviewScroll = window.scrollY;
    S.route = { name: 'trial', id };
    $('#overview').hidden = true;
    TP.id = id;
    TP.sigs = {};
    TP.data = null;
    TP.page = buildTrialPage(id);
    $('#app').appendChild(TP.page);
    window.scrollTo(0, 0);
    TP.chart = makeCurveChart($('#trial-curve'), $('#trial-curve-legend'), 320);
    drawTrialCurve();
    refreshTrialPage();
  }

  function leaveTrial() {
    if (TP.chart) { TP.chart.destroy(); TP.chart = null; }
    if (TP.page) { TP.page.remove(); TP.page = null; }
    TP.id = null;
  }

  function showOverview() {
    leaveTrial();
    const wasOverview = S.route && S.route.name === 'overview';
    S.route = { name: 'overview' };
    $('#overview').hidden = false;
    if (S.sweep) renderHeader();
    if (!wasOverview) {
      requestAnimationFrame(() => {
        window.scrollTo(0, S.overviewScroll || 0);
        if (curveChart) curveChart.resize();
        PC.render(true);
      });
    }
    // (the first trials come after /api/sweep, which says what their metric is)
    if (S.overviewStale) { if (S.sweep) refreshTrials().then(() => { S.overviewStale = false; }).catch(() => {}); }
    else refreshCurves();
    if (!S.summaryAt || Date.now() - S.summaryAt > SUMMARY_MS) refreshSummary();
  }

  function route() {
    const h = location.hash || '#/';
    const m = /^#\/trial\/(.+)$/.exec(h);
    if (m) {
      let id = m[1];
      try { id = decodeURIComponent(id); } catch (e) { /* keep raw */ }
      showTrial(id);
    } else showOverview();
  }

  // ------------------------------------------------------------------ the metric's labels

  /** The page's fixed labels that name the metric (index.html has the model's). */
  function applyMetricLabels() {
    const M = S.metric;
    setText($('#opt-held-name'), M.series);
    setText($('#opt-train-name'), M.train || 'train');
    const trainLabel = $('#opt-train-label');
    if (trainLabel) trainLabel.hidden = !M.train;
    setText($('#parallel-colour'), M.colour);
    setText($('#curves-title'), M.builtin ? 'Learning curves' : 'Learning curves · ' + M.name);
  }

  /**
   * /api/sweep said what the sweep optimises: when it is not what the page assumed (the
   * built-in model), relabel the page and start the table, curves and trial page over.
   */
  function setMetric(m) {
    if (m.key === S.metric.key) return;
    S.metric = m;
    if (!m.builtin) {
      // a program's curves: its values as reported, on a linear axis (the user may change both)
      if (!S.userLog) { S.opts.log = false; $('#opt-log').checked = false; }
      if (!S.userSmooth) { S.opts.smooth = 0; $('#opt-smooth').value = '0'; setText($('#opt-smooth-value'), '0.00'); }
    }
    applyMetricLabels();
    S.curves = new Map();
    lastDrawSig = null;
    S.tableSig = null;
    if (S.trials.length) ingestTrials(S.trials);
    if (S.route && S.route.name === 'trial' && TP.id) {
      const id = TP.id;
      leaveTrial();
      showTrial(id);
    } else refreshCurves();
  }

  // ------------------------------------------------------------------ live polling

  async function poll() {
    try {
      const sw = await getJSON('/api/sweep');
      setLive(true);
      S.sweep = sw;
      setMetric(metricOf(sw));
      if (S.route && S.route.name === 'overview') renderHeader();
      const counts = sw.counts || {};
      const running = (num(counts.running) || 0) > 0;
      const changed = sw.generation !== S.generation;
      if (changed) S.overviewStale = true;
      if (S.route && S.route.name === 'overview') {
        const stale = running && Date.now() - S.trialsAt > STALE_MS;
        if (changed || stale || !S.trialsAt) {
          await refreshTrials();
          S.generation = sw.generation;
          S.overviewStale = false;
        }
        if ((running && Date.now() - S.summaryAt > SUMMARY_MS) || (S.wasRunning && !running)) refreshSummary();
      } else if (S.route && S.route.name === 'trial') {
        if (changed) { S.generation = sw.generation; S.overviewStale = true; await refreshTrialPage(); }
      }
      S.wasRunning = running;
    } catch (e) {
      setLive(false);  // keep retrying every second
    } finally {
      setTimeout(poll, POLL_MS);
    }
  }

  // ------------------------------------------------------------------ controls & start

  function bindControls() {
    const redraw = () => { refreshCurves(); };
    $('#opt-log').addEventListener('change', (e) => { S.userLog = true; S.opts.log = e.target.checked; redraw(); });
    $('#opt-train').addEventListener('change', (e) => { S.opts.train = e.target.checked; redraw(); });
    $('#opt-held').addEventListener('change', (e) => { S.opts.held = e.target.checked; redraw(); });
    $('#opt-mean').addEventListener('change', (e) => { S.userMean = true; S.opts.mean = e.target.checked; redraw(); });
    const sm = $('#opt-smooth');
    const smoothSoon = debounce(() => drawCurves(), 60);
    sm.addEventListener('input', () => {
      S.userSmooth = true;
      S.opts.smooth = parseFloat(sm.value) || 0;
      setText($('#opt-smooth-value'), S.opts.smooth.toFixed(2));
      smoothSoon();
    });
    $('#parallel-clear').addEventListener('click', () => PC.clearBrushes());
    $('#filters-clear').addEventListener('click', () => {
      S.filters = {};
      for (const c of S.cols) if (c.control) c.control.value = '';
      applyVisibility(true);
    });
    window.addEventListener('resize', debounce(() => { if (!S.route || S.route.name === 'overview') PC.render(); }, 150));
  }

  function start() {
    if (typeof uPlot !== 'function') {
      $('#curves').replaceChildren(el('div', { class: 'chart-empty', text: 'uPlot failed to load.' }));
    }
    S.opts.log = $('#opt-log').checked;
    S.opts.smooth = parseFloat($('#opt-smooth').value) || 0;
    curveChart = makeCurveChart($('#curves'), $('#curves-legend'), 380);
    bindControls();
    window.addEventListener('hashchange', route);
    route();
    poll();
  }

  // handle for tests and debugging (read-only use)
  window.sweepDashboard = { state: S, perf: PERF, get chart() { return curveChart && curveChart.uplot; }, renderMarkdown, renderInline, fmtDuration };

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
}());
