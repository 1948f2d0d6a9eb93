// The forecast form of the dataset page: starts a forecast job, follows it, then draws the
// forecast after the history on the chart with its intervals, and shows the backtests.
(function () {
  'use strict';
  const root = document.getElementById('forecast');
  if (!root) return;
  const dataset = root.dataset.dataset;
  const version = root.dataset.version;
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const form = document.getElementById('forecast-form');
  const status = document.getElementById('forecast-status');
  const result = document.getElementById('forecast-result');
  const summary = document.getElementById('forecast-summary');
  const csvLink = document.getElementById('forecast-csv');
  const table = document.querySelector('#forecast-backtests tbody');
  const list = document.getElementById('forecast-list');

  function say(text, isError) {
    status.textContent = text || '';
    status.classList.toggle('error', Boolean(isError));
  }

  async function api(method, url, body) {
    const options = { method, credentials: 'same-origin', headers: { 'X-CSRF-Token': csrf } };
    if (body !== undefined) {
      options.headers['Content-Type'] = 'application/json';
      options.body = JSON.stringify(body);
    }
    const response = await fetch(url, options);
    const text = await response.text();
    const answer = text ? JSON.parse(text) : null;
    if (!response.ok) throw new Error((answer && answer.message) || response.statusText);
    return answer;
  }

  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  async function follow(job) {
    for (;;) {
      if (job.status === 'succeeded') return job;
      if (job.status === 'failed' || job.status === 'cancelled') throw new Error(job.error || 'the forecast was ' + job.status);
      say((job.message || job.status) + (job.progress ? ' (' + Math.round(job.progress) + '%)' : '') + '…');
      await sleep(400);
      job = await api('GET', '/api/v1/jobs/' + encodeURIComponent(job.id));
    }
  }

  function cell(row, text, numeric) {
    const td = document.createElement('td');
    td.textContent = text;
    if (numeric) td.className = 'number';
    row.append(td);
  }

  const fixed = (v, digits) => (v == null || !isFinite(v) ? '–' : Number(v).toFixed(digits));

  function show(view) {
    const forecast = view.forecast;
    const first = view.forecasts.find((f) => f.prediction);
    if (!first) throw new Error('no model could forecast this series');
    const report = forecast.report || {};
    const bands = first.prediction.bands.slice().sort((a, b) => b.level - a.level);
    window.variosyncChart.showForecast({
      id: forecast.id,
      series: forecast.series,
      column: forecast.column,
      label: 'forecast · ' + (first.chosen || first.model),
      times: view.times.map((t) => t / 1e6),
      mean: first.prediction.mean,
      bands,
    });
    summary.textContent = forecast.column + ' of ' + forecast.series + ': ' + forecast.horizon + ' steps of one ' +
      report.frequency + ' after ' + report.rows + ' values' + (report.filled ? ' (' + report.filled + ' missing steps filled)' : '') +
      (report.left_out ? ' (the ' + report.left_out + ' older values left out)' : '') +
      '; ' + view.forecasts.map((f) => f.chosen || (f.model + ': ' + f.error)).join(', ') + '.';
    csvLink.href = '/api/v1/forecasts/' + encodeURIComponent(forecast.id) + '/csv';
    table.replaceChildren();
    for (const trial of report.backtests || []) {
      const row = document.createElement('tr');
      const best = forecast.best === 'auto' ? report.auto : forecast.best;
      if (trial.model === best) row.className = 'best';
      cell(row, trial.model.replace('_', ' '));
      const scores = trial.backtest && trial.backtest.scores;
      if (!scores) {
        const td = document.createElement('td');
        td.colSpan = 7;
        td.textContent = trial.error || 'not backtested';
        row.append(td);
      } else {
        cell(row, fixed(scores.mae, 3), true);
        cell(row, fixed(scores.rmse, 3), true);
        cell(row, fixed(scores.mape, 2), true);
        cell(row, fixed(scores.smape, 2), true);
        cell(row, fixed(scores.mase, 3), true);
        for (const level of [80, 95]) {
          const c = (scores.coverage || []).find((x) => x.level === level);
          cell(row, c ? fixed(c.share, 0) + '%' : '–', true);
        }
      }
      table.append(row);
    }
    result.hidden = false;
    root.dataset.shown = forecast.id;
  }

  async function open(id) {
    say('Loading the forecast…');
    show(await api('GET', '/api/v1/forecasts/' + encodeURIComponent(id)));
    say('');
  }

  async function refreshList() {
    const forecasts = await api('GET', '/api/v1/forecasts?limit=20&dataset_id=' + encodeURIComponent(dataset));
    list.replaceChildren();
    for (const f of forecasts) {
      const item = document.createElement('li');
      const when = new Date(f.created_at).toISOString().replace('T', ' ').slice(0, 16);
      item.textContent = when + ' · ' + f.series + ' · ' + f.column + ' · ' + f.horizon + ' steps · ' + f.models.join(', ');
      const button = document.createElement('button');
      button.type = 'button';
      button.className = 'secondary';
      button.textContent = 'Show';
      button.addEventListener('click', () => open(f.id).catch((e) => say(e.message, true)));
      item.append(button);
      list.append(item);
    }
    document.getElementById('forecast-earlier').hidden = forecasts.length === 0;
  }

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const fields = new FormData(form);
    const button = form.querySelector('button[type=submit]');
    button.disabled = true;
    try {
      say('Starting…');
      const request = {
        dataset_id: dataset,
        version: Number(version),
        series: fields.get('series'),
        column: fields.get('column'),
        models: [fields.get('model')],
        horizon: Number(fields.get('horizon')),
        levels: [80, 95],
      };
      const days = String(fields.get('events') || '').split(',').map((d) => d.trim()).filter((d) => d);
      if (days.length > 0) {
        request.events = [{ name: 'events', dates: days }];
      }
      const job = await api('POST', '/api/v1/forecasts', request);
      const done = await follow(job);
      await open(done.result.forecast_id);
      say('Forecast ready: charged ' + Number(done.charged).toFixed(6) + ' h.');
      refreshList().catch(() => {});
    } catch (error) {
      say(error.message, true);
    } finally {
      button.disabled = false;
    }
  });

  refreshList().catch(() => {});
})();
