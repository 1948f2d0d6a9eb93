// The upload page: files dropped or chosen are previewed (how they would be read), then sent
// with a progress bar each. A file whose reading is ambiguous waits for the person to check
// or correct the mapping. Every name from a file is shown as text, never as markup.
(function () {
  'use strict';
  const PREVIEW_BYTES = 1 << 20;
  // Files larger than this go in chunks that survive a broken connection, and are imported
  // by a worker as a metered job (the server's inline import limit).
  const CHUNKED_ABOVE = Number(document.getElementById('uploads').dataset.inlineBytes || 16777216);
  const CHUNK = 8 << 20;
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
      pick('.map-layout', 'layout');
      pick('.map-decimal', 'decimal');
      return mapping;
    }

    query(extra) {
      const params = new URLSearchParams(Object.assign({}, options(), extra));
      const mapping = this.chosen();
      if (Object.keys(mapping).length) params.set('mapping', JSON.stringify(mapping));
      if (this.duplicates) params.set('duplicates', this.duplicates);
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
      this.previewed = p;
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
      if (p.layout === 'wide') parts.push('a series per column');
      else parts.push(p.series ? 'series from “' + p.series.split(',').join('” + “') + '”' : 'one series');
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
      for (const text of p.notes || []) {
        const item = document.createElement('li');
        item.className = 'note';
        item.textContent = text;
        warnings.append(item);
      }
      const time = this.$('.map-time');
      fill(time, p.columns, p.time || '', p.time ? [] : [['', 'choose a column']]);
      time.dataset.detected = p.time || '';
      const format = this.$('.map-format');
      format.dataset.detected = '';
      const series = this.$('.map-series');
      const together = p.series && p.series.includes(',') ? [[p.series, p.series.split(',').join(' + ')]] : [];
      fill(series, p.columns, p.series || 'none', [['none', 'none: one series'], ...together]);
      series.dataset.detected = p.series || 'none';
      const layout = this.$('.map-layout');
      layout.value = p.layout || 'long';
      layout.dataset.detected = p.layout || 'long';
      this.$('.map-decimal').dataset.detected = '';
      this.$('.sample pre').textContent = p.sample.join('\n');
    }

    send() {
      if (this.started) return;
      this.started = true;
      this.showActions(false);
      this.$('.error').hidden = true;
      this.$('.fixes').hidden = true;
      if (this.completeUrl) { this.complete(); return; }
      this.state('uploading');
      this.began = performance.now();
      if (this.file.size > CHUNKED_ABOVE) this.sendChunks();
      else this.sendWhole();
    }

    // Progress of `loaded` bytes of the file: the bar, the speed and the time left.
    moved(loaded) {
      const total = this.file.size;
      const share = total ? loaded / total : 1;
      this.progress.value = Math.round(share * 100);
      this.progress.textContent = Math.round(share * 100) + '%';
      const seconds = (performance.now() - this.began) / 1000;
      const rate = seconds > 0 ? loaded / seconds : 0;
      const left = rate > 0 ? (total - loaded) / rate : Infinity;
      this.$('.file-speed').textContent = human(loaded) + ' of ' + human(total) + ' · ' + human(rate) + '/s' + (share < 1 ? ' · ' + duration(left) + ' left' : '');
    }

    arrived() {
      this.moved(this.file.size);
      this.state('reading');
      this.row.classList.add('reading');
    }

    answered(status, body) {
      this.row.classList.remove('reading');
      if (status === 201) this.done(body);
      else if (status === 202) this.queued(body);
      else this.broke(body.message || ('the server answered ' + status), body.code);
    }

    broke(message, code) {
      this.started = false;
      this.fail(message);
      this.showActions(true);
      if (code === 'repeated_rows') this.offerFixes();
    }

    // A file read with many rows repeating a series and time: the fixes, a click each.
    offerFixes() {
      const fixes = this.$('.fixes');
      fixes.replaceChildren('Fix it: ');
      const button = (label, apply) => {
        const fix = document.createElement('button');
        fix.type = 'button';
        fix.className = 'secondary';
        fix.textContent = label;
        fix.addEventListener('click', () => { apply(); this.send(); });
        fixes.append(fix, ' ');
      };
      const p = this.previewed || { values: [] };
      for (const value of p.values.filter((v) => v.kind === 'text')) {
        button('read the series from “' + value.column + '”', () => { this.$('.map-series').value = value.column; });
      }
      button('keep the last row of each series and time', () => { this.duplicates = 'keep_last'; });
      fixes.hidden = false;
    }

    // One request with the whole file.
    sendWhole() {
      const xhr = new XMLHttpRequest();
      const params = this.query({ name: stem(this.file.name) });
      xhr.open('POST', '/api/v1/datasets?' + params);
      xhr.setRequestHeader('X-CSRF-Token', csrf);
      xhr.setRequestHeader('Content-Type', 'application/octet-stream');
      xhr.responseType = 'json';
      xhr.upload.addEventListener('progress', (event) => { if (event.lengthComputable) this.moved(event.loaded); });
      xhr.upload.addEventListener('load', () => this.arrived());
      xhr.addEventListener('load', () => this.answered(xhr.status, xhr.response || {}));
      xhr.addEventListener('error', () => this.broke('the connection broke off; try again'));
      xhr.send(this.file);
    }

    // A chunk from `offset`, reporting progress; answers the status and body.
    chunk(url, offset) {
      return new Promise((resolve) => {
        const xhr = new XMLHttpRequest();
        xhr.open('PATCH', url);
        xhr.setRequestHeader('X-CSRF-Token', csrf);
        xhr.setRequestHeader('Upload-Offset', String(offset));
        xhr.setRequestHeader('Content-Type', 'application/octet-stream');
        xhr.responseType = 'json';
        xhr.upload.addEventListener('progress', (event) => this.moved(offset + event.loaded));
        xhr.addEventListener('load', () => resolve({ status: xhr.status, body: xhr.response || {}, offset: Number(xhr.getResponseHeader('Upload-Offset')) }));
        xhr.addEventListener('error', () => resolve({ status: 0, body: {} }));
        xhr.send(this.file.slice(offset, offset + CHUNK));
      });
    }

    async api(method, url, body) {
      const response = await fetch(url, {
        method,
        headers: { 'X-CSRF-Token': csrf, 'Content-Type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
        credentials: 'same-origin',
      });
      let answer = {};
      try { answer = await response.json(); } catch (e) { /* an empty answer */ }
      return { status: response.status, body: answer };
    }

    // Chunks of 8 MB; after a broken connection, asks how much arrived and goes on from there.
    async sendChunks() {
      let created;
      try {
        created = await this.api('POST', '/api/v1/uploads', { file_name: this.file.name, size: this.file.size });
      } catch (error) {
        this.broke('the upload could not start: ' + error.message);
        return;
      }
      if (created.status !== 201 && created.status !== 200) { this.broke(created.body.message || 'the upload could not start'); return; }
      const { url, complete } = created.body;
      this.completeUrl = complete;
      let offset = 0;
      let failures = 0;
      while (offset < this.file.size) {
        const sent = await this.chunk(url, offset);
        if (sent.status >= 200 && sent.status < 300) {
          offset = sent.offset || Math.min(this.file.size, offset + CHUNK);
          failures = 0;
          continue;
        }
        if (sent.status !== 0 && sent.status !== 409 && sent.status < 500) { this.broke(sent.body.message || ('the server answered ' + sent.status)); return; }
        failures += 1;
        if (failures > 6) { this.broke('the connection keeps breaking off; try again later'); return; }
        this.state('connection lost, resuming…');
        await new Promise((r) => setTimeout(r, 500 * 2 ** failures));
        try {
          const status = await this.api('GET', url);
          if (status.status === 200) offset = status.body.received;
        } catch (e) { /* try again */ }
        this.state('uploading');
      }
      this.arrived();
      await this.complete();
    }

    // Makes the arrived upload a dataset (again, after a failed import, with other choices).
    async complete() {
      this.state('reading');
      try {
        const params = this.query({ name: stem(this.file.name) });
        const done = await this.api('POST', this.completeUrl + '?' + params);
        if (done.status === 201 || done.status === 202) this.completeUrl = null;
        this.answered(done.status, done.body);
      } catch (error) {
        this.broke('the file arrived, but importing it could not start: ' + error.message);
      }
    }

    // A worker imports the file: follow the job until it ends.
    queued(job) {
      this.state('importing');
      this.progress.value = 0;
      const speed = this.$('.file-speed');
      speed.textContent = 'Queued for a worker (reserved ' + job.reserved + ' h)';
      this.row.dataset.job = job.id || '';
      const events = new EventSource('/api/v1/jobs/events');
      const follow = (latest) => {
        if (latest.id !== job.id) return;
        this.progress.value = Math.round((latest.progress || 0) * 100);
        speed.textContent = latest.message || latest.status;
        if (latest.status === 'succeeded') { events.close(); this.done(latest.result); }
        else if (latest.status === 'failed' || latest.status === 'cancelled') {
          events.close();
          const error = latest.error || ('the import was ' + latest.status);
          this.broke(error, error.includes('repeat a series and time with other values') ? 'repeated_rows' : undefined);
        }
      };
      events.addEventListener('job', (event) => { try { follow(JSON.parse(event.data)); } catch (e) { /* not for us */ } });
      // The job may have moved on before the stream opened.
      events.addEventListener('open', async () => {
        const now = await this.api('GET', '/api/v1/jobs/' + encodeURIComponent(job.id));
        if (now.status === 200) follow(now.body);
      });
    }

    done(body) {
      if (this.row.classList.contains('imported')) return;
      this.progress.value = 100;
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
