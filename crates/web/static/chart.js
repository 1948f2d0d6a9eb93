// The dataset chart: lines (uPlot) for any series and columns, or candlesticks with a volume
// pane (Lightweight Charts) for OHLC data. Every zoom or pan asks the window endpoint again
// for about as many points as the chart has pixels, so a series of any length stays fluid.
// Times on the wire are microseconds; uPlot takes seconds, Lightweight Charts seconds too.
(function () {
  'use strict';
  const root = document.getElementById('chart');
  if (!root) return;
  const dataset = root.dataset.dataset;
  const version = root.dataset.version;
  const title = root.dataset.name || 'chart';
  const area = document.getElementById('chart-area');
  const legend = document.getElementById('chart-legend');
  const status = document.getElementById('chart-status');
  const seriesSelect = document.getElementById('chart-series');
  const columnsBox = document.getElementById('chart-columns');
  const logBox = document.getElementById('chart-log');
  const PALETTE = ['#1f6feb', '#d9480f', '#2f9e44', '#ae3ec9', '#f08c00', '#0c8599', '#e03131', '#5c7cfa', '#66a80f', '#862e9c'];
  const DAY = 86400;
  const RANGES = { '1D': DAY, '1W': 7 * DAY, '1M': 31 * DAY, '1Y': 366 * DAY };

  // Measurements for people and tests: each draw with how long it took from its request.
  const timings = [];
  window.variosyncChart = { timings };

  const view = { mode: 'lines', full: null, from: null, to: null, log: false };
  let plot = null;
  let candles = null;
  let asked = 0;
  let quiet = false;
  let data = null; // what is drawn, for CSV: { header, rows }
  // A forecast drawn after the history: { id, series, column, label, times (s), mean,
  // bands: [{ level, lower, upper }] }, widest band first.
  let overlay = null;
  let afterLoad = null;

  function say(text, isError) {
    status.textContent = text || '';
    status.classList.toggle('error', Boolean(isError));
  }

  function chosenSeries() {
    const picked = [...seriesSelect.selectedOptions].map((o) => o.value);
    return picked.length ? picked : [seriesSelect.options[0] && seriesSelect.options[0].value].filter(Boolean);
  }

  function chosenColumns() {
    return [...columnsBox.querySelectorAll('input:checked')].map((i) => i.value);
  }

  function colour(name) {
    return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || '#888';
  }

  async function fetchWindow(series, params) {
    const query = new URLSearchParams(params);
    query.set('version', version);
    const url = '/api/v1/datasets/' + encodeURIComponent(dataset) + '/series/' + encodeURIComponent(series) + '/window?' + query;
    const response = await fetch(url, { credentials: 'same-origin' });
    const body = await response.json();
    if (!response.ok) throw new Error(body.message || response.statusText);
    return body;
  }

  // The range to ask for: the visible one with half its width again on each side, so a pan
  // has data to show before the next answer arrives.
  function padded(from, to) {
    if (from == null) return {};
    const width = to - from;
    let lo = from - width / 2;
    let hi = to + width / 2;
    if (view.full) { lo = Math.max(lo, view.full[0]); hi = Math.min(hi, view.full[1]); }
    return { from: Math.floor(lo * 1000), to: Math.ceil(hi * 1000) + 1 };
  }

  function pixels() { return Math.max(300, area.clientWidth || 800); }

  function record(kind, began, points) {
    requestAnimationFrame(() => {
      const entry = { kind, ms: performance.now() - began, points, at: performance.now() };
      timings.push(entry);
      root.dataset.draws = String(timings.length);
    });
  }

  function destroy() {
    if (plot) { plot.destroy(); plot = null; }
    if (candles) { candles.chart.remove(); candles = null; }
    area.replaceChildren();
    area.style.height = '';
    legend.replaceChildren();
  }

  // ---- lines -----------------------------------------------------------------------------

  async function loadLines(kind) {
    const mine = ++asked;
    const began = performance.now();
    const series = chosenSeries();
    const columns = chosenColumns();
    if (!columns.length) { say('Choose at least one column.', true); return; }
    const range = padded(view.from, view.to);
    const points = Math.min(20000, Math.round(pixels() * (range.from == null ? 1 : 2)));
    say('Loading…');
    let answers;
    try {
      answers = await Promise.all(series.map((s) => fetchWindow(s, Object.assign({ points, columns: columns.join(',') }, range))));
    } catch (error) {
      if (mine === asked) say(error.message, true);
      return;
    }
    if (mine !== asked) return;
    const tables = [];
    const labels = [];
    const roles = [];
    for (const answer of answers) {
      for (const column of answer.columns) {
        tables.push([column.ts.map((t) => t / 1e6), column.values]);
        labels.push(series.length > 1 ? answer.series + ' · ' + column.name : column.name);
        roles.push({ role: 'data' });
      }
    }
    if (overlay && series.includes(overlay.series) && columns.includes(overlay.column)) {
      tables.push([overlay.times, overlay.mean]);
      labels.push(overlay.label);
      roles.push({ role: 'mean' });
      overlay.bands.forEach((band, b) => {
        tables.push([overlay.times, band.lower], [overlay.times, band.upper]);
        labels.push(band.level + '% lower', band.level + '% upper');
        roles.push({ role: 'low', band: b }, { role: 'high', band: b });
      });
    }
    say(!tables.length || tables.every((t) => t[0].length === 0) ? 'No rows in this range.' : '');
    const joined = tables.length ? uPlot.join(tables) : [[]];
    const xs = joined[0];
    if (!view.full && xs.length) view.full = [xs[0], xs[xs.length - 1]];
    data = { header: ['time'].concat(labels), xs, ys: joined.slice(1) };
    const key = labels.join('\u0000') + (view.log ? ':log' : '') + (overlay ? ':' + overlay.id : '');
    quiet = true;
    if (plot && plot.variosyncKey === key) {
      plot.setData(joined, false);
      setLineScale();
    } else {
      destroy();
      plot = makePlot(joined, labels, roles);
      plot.variosyncKey = key;
      setLineScale();
    }
    quiet = false;
    const drawn = joined.slice(1).reduce((n, ys) => n + ys.length, 0);
    record(kind, began, drawn);
    if (afterLoad) { const next = afterLoad; afterLoad = null; next(); }
  }

  // The x range the chart was last told to show: uPlot reports it back (later, in a batch),
  // and that report is not a zoom.
  let shownRange = null;
  function setLineScale() {
    const lo = view.from != null ? view.from : (view.full ? view.full[0] : null);
    const hi = view.to != null ? view.to : (view.full ? view.full[1] : null);
    if (lo != null && hi != null && hi > lo) {
      shownRange = [lo, hi];
      plot.setScale('x', { min: lo, max: hi });
    }
  }

  const FORECAST = '#e8590c';
  const BAND_FILLS = ['rgba(232,89,12,0.12)', 'rgba(232,89,12,0.22)', 'rgba(232,89,12,0.3)', 'rgba(232,89,12,0.36)'];

  function makePlot(joined, labels, roles) {
    const fg = colour('--fg');
    const grid = colour('--line');
    const series = [{ value: (u, v) => (v == null ? '' : new Date(v * 1000).toISOString().replace('T', ' ').slice(0, 19)) }];
    const bands = [];
    labels.forEach((label, i) => {
      const role = roles[i] || { role: 'data' };
      if (role.role !== 'data') {
        series.push({
          label,
          stroke: role.role === 'mean' ? FORECAST : 'rgba(232,89,12,0.45)',
          width: role.role === 'mean' ? 2 : 0.75,
          dash: role.role === 'mean' ? [6, 4] : undefined,
          scale: 'y',
          spanGaps: true,
          points: { show: false },
        });
        if (role.role === 'high') bands.push({ series: [i + 1, i], fill: BAND_FILLS[role.band % BAND_FILLS.length] });
        return;
      }
      const volume = /volume/i.test(label);
      series.push({
        label,
        stroke: PALETTE[i % PALETTE.length],
        width: 1.25,
        scale: volume ? 'vol' : 'y',
        spanGaps: false,
        // Dots only where there are few enough to see one by one.
        points: { show: (u, si, i0, i1) => i1 - i0 < 60 },
      });
    });
    const axes = [
      { stroke: fg, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid } },
      { stroke: fg, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid }, size: 70 },
    ];
    if (labels.some((l) => /volume/i.test(l))) axes.push({ scale: 'vol', side: 1, stroke: fg, grid: { show: false }, size: 80 });
    const options = {
      width: pixels(),
      height: Math.max(280, Math.min(520, Math.round(window.innerHeight * 0.55))),
      series,
      axes,
      scales: { x: { time: true }, y: { distr: view.log ? 3 : 1 }, vol: { distr: view.log ? 3 : 1 } },
      cursor: { drag: { x: true, y: false, setScale: true }, focus: { prox: 24 } },
      legend: { live: true },
      bands,
      hooks: { setScale: [onLineScale] },
    };
    const made = new uPlot(options, joined, area);
    made.over.addEventListener('wheel', onWheel, { passive: false });
    made.over.addEventListener('dblclick', (event) => { event.stopPropagation(); setRange('All'); }, true);
    made.over.addEventListener('mousedown', onPanStart);
    return made;
  }

  let settle = null;
  function onLineScale(u, key) {
    if (key !== 'x' || quiet) return;
    const { min, max } = u.scales.x;
    if (min == null || max == null) return;
    const close = (a, b) => Math.abs(a - b) <= Math.max(1e-6, Math.abs(max - min) * 1e-9);
    if (shownRange && close(min, shownRange[0]) && close(max, shownRange[1])) return;
    shownRange = null;
    view.from = min;
    view.to = max;
    clearTimeout(settle);
    settle = setTimeout(() => reload('zoom'), 120);
  }

  function onWheel(event) {
    event.preventDefault();
    const { min, max } = plot.scales.x;
    const at = plot.posToVal(event.offsetX, 'x');
    const factor = event.deltaY < 0 ? 0.75 : 1 / 0.75;
    if (event.shiftKey) { pan((event.deltaY > 0 ? 0.15 : -0.15) * (max - min)); return; }
    zoomTo(at - (at - min) * factor, at + (max - at) * factor);
  }

  function onPanStart(event) {
    if (!event.shiftKey) return;
    event.preventDefault();
    event.stopPropagation();
    const startX = event.clientX;
    const { min, max } = plot.scales.x;
    const perPixel = (max - min) / plot.over.clientWidth;
    const move = (e) => { zoomTo(min - (e.clientX - startX) * perPixel, max - (e.clientX - startX) * perPixel); };
    const up = () => { window.removeEventListener('mousemove', move); window.removeEventListener('mouseup', up); };
    window.addEventListener('mousemove', move);
    window.addEventListener('mouseup', up);
  }

  function zoomTo(lo, hi) {
    if (view.full) {
      const span = hi - lo;
      const full = view.full[1] - view.full[0];
      if (span >= full) { lo = view.full[0]; hi = view.full[1]; } else {
        if (lo < view.full[0]) { lo = view.full[0]; hi = lo + span; }
        if (hi > view.full[1]) { hi = view.full[1]; lo = hi - span; }
      }
    }
    if (view.mode === 'lines' && plot) plot.setScale('x', { min: lo, max: hi });
    else if (candles) candles.chart.timeScale().setVisibleRange({ from: lo, to: hi });
  }

  function pan(by) {
    const [lo, hi] = visible();
    if (lo != null) zoomTo(lo + by, hi + by);
  }

  function visible() {
    if (view.mode === 'lines' && plot) return [plot.scales.x.min, plot.scales.x.max];
    if (candles) {
      const r = candles.chart.timeScale().getVisibleRange();
      if (r) return [r.from, r.to];
    }
    return [view.from, view.to];
  }

  // ---- candles ---------------------------------------------------------------------------

  async function loadCandles(kind) {
    const mine = ++asked;
    const began = performance.now();
    const series = chosenSeries()[0];
    const range = padded(view.from, view.to);
    const bars = Math.max(60, Math.round(pixels() / 6));
    const points = Math.min(20000, range.from == null ? bars : bars * 2);
    say('Loading…');
    let answer;
    try {
      answer = await fetchWindow(series, Object.assign({ points, candles: 'true' }, range));
    } catch (error) {
      if (mine === asked) say(error.message, true);
      return;
    }
    if (mine !== asked) return;
    say(answer.candles.length ? '' : 'No rows in this range.');
    const rows = answer.candles.map((c) => ({ time: Math.floor(c.ts / 1e6), open: c.open, high: c.high, low: c.low, close: c.close, volume: c.volume }));
    if (!view.full && rows.length) view.full = [rows[0].time, rows[rows.length - 1].time];
    data = {
      header: ['time', 'open', 'high', 'low', 'close', 'volume'],
      candleRows: rows,
    };
    if (!candles) makeCandles();
    quiet = true;
    candles.main.setData(rows.map(({ time, open, high, low, close }) => ({ time, open, high, low, close })));
    candles.volume.setData(rows.filter((r) => r.volume != null).map((r) => ({ time: r.time, value: r.volume, color: r.close >= r.open ? 'rgba(47,158,68,0.5)' : 'rgba(224,49,49,0.5)' })));
    candles.loaded = { from: range.from == null ? null : range.from / 1000, to: range.to == null ? null : range.to / 1000, rows: answer.rows, count: rows.length };
    if (view.from != null && view.to != null) candles.chart.timeScale().setVisibleRange({ from: view.from, to: view.to });
    else candles.chart.timeScale().fitContent();
    quiet = false;
    record(kind, began, rows.length);
  }

  function makeCandles() {
    destroy();
    const LW = window.LightweightCharts;
    const fg = colour('--fg');
    const grid = colour('--line');
    // The chart fills the area, so the area's height is fixed first.
    area.style.height = Math.max(320, Math.min(560, Math.round(window.innerHeight * 0.6))) + 'px';
    const chart = LW.createChart(area, {
      autoSize: true,
      layout: { background: { type: 'solid', color: 'transparent' }, textColor: fg, attributionLogo: false },
      grid: { vertLines: { color: grid }, horzLines: { color: grid } },
      rightPriceScale: { mode: view.log ? LW.PriceScaleMode.Logarithmic : LW.PriceScaleMode.Normal },
      timeScale: { timeVisible: true, secondsVisible: false, lockVisibleTimeRangeOnResize: true },
      crosshair: { mode: LW.CrosshairMode.Normal },
    });
    const main = chart.addSeries(LW.CandlestickSeries, { upColor: '#2f9e44', downColor: '#e03131', borderVisible: false, wickUpColor: '#2f9e44', wickDownColor: '#e03131' });
    const volume = chart.addSeries(LW.HistogramSeries, { priceFormat: { type: 'volume' }, lastValueVisible: false, priceLineVisible: false }, 1);
    const panes = chart.panes();
    if (panes[1]) panes[1].setHeight(90);
    chart.subscribeCrosshairMove((param) => {
      const bar = param.seriesData && param.seriesData.get(main);
      if (!bar) { legend.textContent = ''; return; }
      const vol = param.seriesData.get(volume);
      const when = new Date(param.time * 1000).toISOString().replace('T', ' ').slice(0, 16);
      const price = (v) => (Math.abs(v) >= 1 ? v.toFixed(2) : v.toPrecision(4));
      legend.textContent = when + '  O ' + price(bar.open) + '  H ' + price(bar.high) + '  L ' + price(bar.low) + '  C ' + price(bar.close) + (vol ? '  V ' + Math.round(vol.value).toLocaleString('en') : '');
    });
    chart.timeScale().subscribeVisibleTimeRangeChange(onCandleRange);
    area.addEventListener('dblclick', () => setRange('All'));
    candles = { chart, main, volume, loaded: null };
  }

  function onCandleRange(range) {
    if (quiet || !range || !candles || !candles.loaded) return;
    view.from = range.from;
    view.to = range.to;
    clearTimeout(settle);
    settle = setTimeout(() => {
      const loaded = candles.loaded;
      const logical = candles.chart.timeScale().getVisibleLogicalRange();
      const shown = logical ? logical.to - logical.from : loaded.count;
      const bars = Math.max(60, Math.round(pixels() / 6));
      const beyondLeft = logical && logical.from < 0 && view.full && (loaded.from == null || loaded.from > view.full[0]);
      const beyondRight = logical && logical.to > loaded.count && view.full && (loaded.to == null || loaded.to < view.full[1]);
      const coarse = loaded.rows > loaded.count && shown < bars / 2;
      const crowded = shown > bars * 2;
      if (beyondLeft || beyondRight || coarse || crowded) {
        if (logical && logical.from < 0 && loaded.count > 1) {
          const step = (range.to - range.from) / Math.max(1, shown);
          view.from = Math.max(view.full[0], range.from + logical.from * step);
        }
        reload('zoom');
      }
    }, 150);
  }

  // ---- common ----------------------------------------------------------------------------

  function reload(kind) {
    if (view.mode === 'candles') return loadCandles(kind);
    return loadLines(kind);
  }

  function setRange(name) {
    if (name === 'All' || !view.full) { view.from = null; view.to = null; }
    else {
      view.to = view.full[1];
      view.from = Math.max(view.full[0], view.to - RANGES[name]);
    }
    for (const button of root.querySelectorAll('[data-range]')) button.setAttribute('aria-pressed', String(button.dataset.range === name));
    reload('zoom');
  }

  function setMode(mode) {
    view.mode = mode;
    for (const button of root.querySelectorAll('[data-mode]')) button.setAttribute('aria-pressed', String(button.dataset.mode === mode));
    destroy();
    reload('zoom');
  }

  function download(name, blob) {
    const link = document.createElement('a');
    link.href = URL.createObjectURL(blob);
    link.download = name;
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 10000);
  }

  function fileName(ext) {
    return title.replace(/[^\w.-]+/g, '_').slice(0, 60) + '-' + chosenSeries().join('_').replace(/[^\w.-]+/g, '_').slice(0, 40) + '.' + ext;
  }

  function exportPng() {
    const canvas = view.mode === 'candles' && candles ? candles.chart.takeScreenshot() : plot && plot.ctx.canvas;
    if (!canvas) return;
    canvas.toBlob((blob) => blob && download(fileName('png'), blob), 'image/png');
  }

  // A number as it is; text quoted when needed, and text a spreadsheet would take for a
  // formula prefixed with an apostrophe.
  function csvField(value) {
    if (value == null) return '';
    if (typeof value === 'number') return String(value);
    let text = String(value);
    if (/^[=+\-@\t\r]/.test(text)) text = "'" + text;
    return /[",\n\r]/.test(text) ? '"' + text.replace(/"/g, '""') + '"' : text;
  }

  function exportCsv() {
    if (!data) return;
    const [lo, hi] = visible();
    const inView = (t) => lo == null || (t >= lo && t <= hi);
    const iso = (t) => new Date(t * 1000).toISOString();
    const lines = [data.header.map(csvField).join(',')];
    if (data.candleRows) {
      for (const r of data.candleRows) if (inView(r.time)) lines.push([iso(r.time), r.open, r.high, r.low, r.close, r.volume].map(csvField).join(','));
    } else {
      data.xs.forEach((t, i) => { if (inView(t)) lines.push([iso(t)].concat(data.ys.map((ys) => ys[i])).map(csvField).join(',')); });
    }
    download(fileName('csv'), new Blob([lines.join('\n') + '\n'], { type: 'text/csv' }));
  }

  root.addEventListener('click', (event) => {
    const button = event.target.closest('button');
    if (!button || !root.contains(button)) return;
    if (button.dataset.range) setRange(button.dataset.range);
    else if (button.dataset.mode) setMode(button.dataset.mode);
    else if (button.id === 'chart-png') exportPng();
    else if (button.id === 'chart-csv') exportCsv();
  });
  seriesSelect.addEventListener('change', () => { view.full = null; view.from = null; view.to = null; destroy(); reload('zoom'); });
  columnsBox.addEventListener('change', () => reload('zoom'));
  logBox.addEventListener('change', () => { view.log = logBox.checked; destroy(); reload('zoom'); });
  area.addEventListener('keydown', (event) => {
    const [lo, hi] = visible();
    if (lo == null) return;
    const span = hi - lo;
    const mid = (lo + hi) / 2;
    if (event.key === 'ArrowLeft') pan(-span * 0.2);
    else if (event.key === 'ArrowRight') pan(span * 0.2);
    else if (event.key === '+' || event.key === '=') zoomTo(mid - span * 0.375, mid + span * 0.375);
    else if (event.key === '-') zoomTo(mid - span * 0.667, mid + span * 0.667);
    else return;
    event.preventDefault();
  });
  let resizing = null;
  window.addEventListener('resize', () => {
    clearTimeout(resizing);
    resizing = setTimeout(() => { if (plot) plot.setSize({ width: pixels(), height: plot.height }); }, 100);
  });
  // What the chart shows, for people debugging it and for tests.
  window.variosyncChart.describe = () => {
    const [from, to] = visible();
    const shown = { mode: view.mode, from, to, full: view.full, log: view.log };
    if (view.mode === 'candles' && data && data.candleRows) {
      const times = data.candleRows.map((r) => r.time).filter((t) => from == null || (t >= from && t <= to));
      const steps = times.slice(1).map((t, i) => t - times[i]).sort((a, b) => a - b);
      Object.assign(shown, { candles: times.length, step: steps.length ? steps[0] : null, volumes: data.candleRows.filter((r) => r.volume != null).length, panes: candles ? candles.chart.panes().length : 0 });
    } else if (data && data.xs) {
      Object.assign(shown, { points: data.xs.length, lines: data.header.slice(1) });
    }
    return shown;
  };
  window.variosyncChart.zoom = zoomTo;
  // Draws a forecast after its series' history (lines mode, its series and column shown),
  // and shows the last stretch of history with it; `null` takes it away.
  window.variosyncChart.showForecast = (next) => {
    overlay = next;
    if (next) {
      for (const option of seriesSelect.options) option.selected = option.value === next.series;
      const box = [...columnsBox.querySelectorAll('input')].find((i) => i.value === next.column);
      if (box) box.checked = true;
      if (view.mode !== 'lines') { view.mode = 'lines'; for (const b of root.querySelectorAll('[data-mode]')) b.setAttribute('aria-pressed', String(b.dataset.mode === 'lines')); }
      const end = next.times[next.times.length - 1];
      const span = end - next.times[0];
      afterLoad = () => { if (view.full) zoomTo(Math.max(view.full[0], next.times[0] - 4 * Math.max(span, 1)), end); };
    }
    view.full = null; view.from = null; view.to = null;
    destroy();
    return loadLines('zoom');
  };
  window.variosyncChart.forecast = () => overlay && { id: overlay.id, steps: overlay.times.length, bands: overlay.bands.length, drawn: Boolean(plot && plot.series.some((s) => s.label === overlay.label)) };

  if (root.dataset.ohlc === 'true' && chosenSeries().length === 1 && new URLSearchParams(location.search).get('chart') === 'candles') setMode('candles');
  else reload('first');
})();
