// The upload page: files dropped or chosen are previewed (how they would be read), then sent
// with a progress bar each. A file whose reading is ambiguous waits for the person to check
// or correct the mapping. Every name from a file is shown as text, never as markup.
(function () {
  'use strict';
  const PREVIEW_BYTES = 1 << 20;
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const list = document.getElementById('uploads');
  const template = document.getElementById('upload-row');
  const zone = document.getElementById('dropzone');
  const input = document.getElementById('files');

  function human(bytes) {
    const units = ['B', 'KB', 'MB', 'GB', 'TB'];
    let value = bytes;
    let unit = 0;
    while (value >= 1000 && unit < units.length - 1) { value /= 1000; unit += 1; }
    return unit === 0 ? bytes + ' B' : value.toFixed(1) + ' ' + units[unit];
  }

  function duration(seconds) {
    if (!isFinite(seconds)) return '';
    if (seconds < 60) return Math.ceil(seconds) + ' s';
    const minutes = Math.floor(seconds / 60);
    if (minutes < 60) return minutes + ' min ' + Math.round(seconds % 60) + ' s';
    return Math.floor(minutes / 60) + ' h ' + (minutes % 60) + ' min';
  }

  function stem(name) {
    let base = name.replace(/^.*[\\/]/, '');
    for (const ext of ['.gz', '.bz2', '.zst', '.zip']) {
      if (base.toLowerCase().endsWith(ext)) base = base.slice(0, -ext.length);
    }
    const dot = base.lastIndexOf('.');
    return (dot > 0 ? base.slice(0, dot) : base) || 'upload';
  }

  function options() {
    return {
      mode: document.getElementById('opt-mode').value,
      tz: document.getElementById('opt-tz').value.trim() || 'UTC',
      duplicates: document.getElementById('opt-duplicates').value,
    };
  }

  function fill(select, names, chosen, extra) {
    select.replaceChildren();
    for (const [value, label] of extra) {
      select.append(new Option(label, value, false, value === chosen));
    }
    for (const name of names) select.append(new Option(name, name, false, name === chosen));
  }

  class Upload {
    constructor(file) {
      this.file = file;
      this.row = template.content.firstElementChild.cloneNode(true);
      this.$ = (selector) => this.row.querySelector(selector);
      this.$('.file-name').textContent = file.name;
      this.$('.file-size').textContent = human(file.size);
      this.progress = this.$('progress');
      this.mapping = {};
      this.$('.import').addEventListener('click', () => this.send());
      this.$('.recheck').addEventListener('click', () => this.preview());
      list.append(this.row);
    }

    state(text) { this.$('.file-state').textContent = text; }

    fail(message) {
      const error = this.$('.error');
      error.textContent = message;
      error.hidden = false;
      this.state('not imported');
      this.row.classList.add('failed');
    }

    chosen() {
      const mapping = {};
      const pick = (selector, key) => {
        const select = this.$(selector);
        if (select.dataset.detected !== select.value && select.value !== '') mapping[key] = select.value;
      };
      pick('.map-time', 'time');
      pick('.map-format', 'time_format');
      pick('.map-series', 'series');
      pick('.map-decimal', 'decimal');
      return mapping;
    }

    query(extra) {
      const params = new URLSearchParams(Object.assign({}, options(), extra));
      const mapping = this.chosen();
      if (Object.keys(mapping).length) params.set('mapping', JSON.stringify(mapping));
      return params;
    }

    async preview() {
      this.$('.error').hidden = true;
      this.state('checking…');
      const whole = this.file.size <= PREVIEW_BYTES;
      const head = this.file.slice(0, PREVIEW_BYTES);
      const params = this.query({ whole: String(whole) });
      params.delete('mode');
      params.delete('duplicates');
      let answer;
      try {
        const response = await fetch('/api/v1/datasets/preview?' + params, {
          method: 'POST',
          headers: { 'X-CSRF-Token': csrf, 'Content-Type': 'application/octet-stream' },
          body: head,
          credentials: 'same-origin',
        });
        answer = await response.json();
        if (!response.ok) { this.fail(answer.message || response.statusText); this.showActions(true); return; }
      } catch (error) {
        this.fail('the file could not be checked: ' + error.message);
        return;
      }
      this.show(answer);
      const ambiguous = answer.problem || answer.warnings.length > 0;
      if (!answer.read) {
        this.send();
      } else if (ambiguous) {
        this.state('check how it will be read');
        this.showActions(true);
        this.$('.import').disabled = Boolean(answer.problem);
      } else if (!this.started) {
        this.send();
      }
    }

    showActions(visible) {
      this.$('.preview').hidden = false;
      this.$('.actions').hidden = !visible;
      this.$('.mapping').hidden = !visible;
    }

    show(p) {
      const preview = this.$('.preview');
      preview.hidden = false;
      const summary = this.$('.preview-summary');
      if (!p.read) {
        summary.textContent = 'A ' + p.format + ' file: it is read when it arrives.';
        return;
      }
      const parts = [];
      if (p.format) parts.push((p.compression ? p.compression + ' ' : '') + p.format);
      if (p.time) parts.push('time from “' + p.time + '”' + (p.time_of_day ? ' and “' + p.time_of_day + '”' : '') + (p.time_format_label ? ' (' + p.time_format_label + ')' : ''));
      parts.push(p.series ? 'series from “' + p.series + '”' : 'one series');
      if (p.values.length) parts.push('values: ' + p.values.map((v) => v.name + ' (' + v.kind + ')').join(', '));
      summary.textContent = parts.join(' · ');
      const warnings = this.$('.preview-warnings');
      warnings.replaceChildren();
      for (const text of [p.problem, ...p.warnings].filter(Boolean)) {
        const item = document.createElement('li');
        item.className = 'warning';
        item.textContent = text;
        warnings.append(item);
      }
      const time = this.$('.map-time');
      fill(time, p.columns, p.time || '', p.time ? [] : [['', 'choose a column']]);
      time.dataset.detected = p.time || '';
      const format = this.$('.map-format');
      format.dataset.detected = '';
      const series = this.$('.map-series');
      fill(series, p.columns, p.series || 'none', [['none', 'none: one series']]);
      series.dataset.detected = p.series || 'none';
      this.$('.map-decimal').dataset.detected = '';
      this.$('.sample pre').textContent = p.sample.join('\n');
    }

    send() {
      if (this.started) return;
      this.started = true;
      this.showActions(false);
      this.$('.error').hidden = true;
      this.state('uploading');
      const xhr = new XMLHttpRequest();
      const params = this.query({ name: stem(this.file.name) });
      xhr.open('POST', '/api/v1/datasets?' + params);
      xhr.setRequestHeader('X-CSRF-Token', csrf);
      xhr.setRequestHeader('Content-Type', 'application/octet-stream');
      xhr.responseType = 'json';
      const began = performance.now();
      const speed = this.$('.file-speed');
      xhr.upload.addEventListener('progress', (event) => {
        if (!event.lengthComputable) return;
        const share = event.loaded / event.total;
        this.progress.value = Math.round(share * 100);
        this.progress.textContent = Math.round(share * 100) + '%';
        const seconds = (performance.now() - began) / 1000;
        const rate = seconds > 0 ? event.loaded / seconds : 0;
        const left = rate > 0 ? (event.total - event.loaded) / rate : Infinity;
        speed.textContent = human(event.loaded) + ' of ' + human(event.total) + ' · ' + human(rate) + '/s' + (share < 1 ? ' · ' + duration(left) + ' left' : '');
      });
      xhr.upload.addEventListener('load', () => {
        this.progress.value = 100;
        this.state('reading');
        this.row.classList.add('reading');
      });
      xhr.addEventListener('load', () => {
        this.row.classList.remove('reading');
        const body = xhr.response || {};
        if (xhr.status === 201) this.done(body);
        else if (xhr.status === 202) this.queued(body);
        else { this.started = false; this.fail(body.message || ('the server answered ' + xhr.status)); this.showActions(true); }
      });
      xhr.addEventListener('error', () => { this.started = false; this.fail('the connection broke off; try again'); this.showActions(true); });
      xhr.send(this.file);
    }

    queued(job) {
      this.state('importing in the background');
      const result = this.$('.result');
      result.hidden = false;
      const link = document.createElement('a');
      link.href = '/jobs';
      link.textContent = 'follow it on the jobs page';
      result.replaceChildren('The file is large: it is imported by a worker; ', link, '.');
      this.row.dataset.job = job.id || '';
    }

    done(body) {
      this.state('imported');
      this.row.classList.add('imported');
      const result = this.$('.result');
      result.hidden = false;
      const link = document.createElement('a');
      link.href = '/datasets/' + encodeURIComponent(body.dataset.id);
      link.textContent = body.dataset.name;
      link.className = 'dataset-link';
      const version = body.version;
      const line = document.createElement('p');
      line.append(link, ': ' + version.row_count + ' rows in ' + version.series.length + ' series');
      result.replaceChildren(line);
      if (body.warnings.length) {
        const warnings = document.createElement('ul');
        for (const text of body.warnings) {
          const item = document.createElement('li');
          item.className = 'warning';
          item.textContent = text;
          warnings.append(item);
        }
        result.append(warnings);
      }
      if (body.rejects.count > 0) {
        const rejects = document.createElement('p');
        rejects.append(body.rejects.count + ' row' + (body.rejects.count === 1 ? ' was' : 's were') + ' set aside as unreadable');
        if (body.rejects.first.length) {
          const first = body.rejects.first[0];
          rejects.append(' (first: line ' + first.line + ', column ' + first.column + ': expected ' + first.expected + ')');
        }
        if (body.rejects.download) {
          const download = document.createElement('a');
          download.href = body.rejects.download;
          download.textContent = 'download them as CSV';
          download.setAttribute('download', '');
          rejects.append(': ', download);
        }
        result.append(rejects);
      }
    }
  }

  function take(files) {
    for (const file of files) new Upload(file).preview();
  }

  input.addEventListener('change', () => { take(input.files); input.value = ''; });
  zone.addEventListener('dragover', (event) => { event.preventDefault(); zone.classList.add('over'); });
  zone.addEventListener('dragleave', () => zone.classList.remove('over'));
  zone.addEventListener('drop', (event) => {
    event.preventDefault();
    zone.classList.remove('over');
    take(event.dataTransfer.files);
  });
  zone.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' || event.key === ' ') { event.preventDefault(); input.click(); }
  });
})();
