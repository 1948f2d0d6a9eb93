// Every page: the light/dark switch, and live parts of a page. A part marked `data-live`
// listens to server-sent events and is fetched again (the whole page, of which only that
// part is kept) when something it shows changes; a job row follows its progress directly.
(function () {
  'use strict';
  const THEMES = ['light', 'dark'];

  function applyTheme(theme) {
    if (THEMES.includes(theme)) document.documentElement.dataset.theme = theme;
    else delete document.documentElement.dataset.theme;
  }
  try { applyTheme(localStorage.getItem('theme')); } catch (e) { /* storage may be off */ }

  function currentTheme() {
    const set = document.documentElement.dataset.theme;
    if (set) return set;
    return window.matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light';
  }

  // Fetches this page again and swaps in its fresh copy of the part with this id.
  let refreshing = null;
  function refresh(id) {
    clearTimeout(refreshing);
    refreshing = setTimeout(async () => {
      try {
        const response = await fetch(location.href, { credentials: 'same-origin' });
        if (!response.ok) return;
        const page = new DOMParser().parseFromString(await response.text(), 'text/html');
        const fresh = page.getElementById(id);
        const part = document.getElementById(id);
        if (fresh && part) {
          part.replaceWith(document.importNode(fresh, true));
          document.dispatchEvent(new CustomEvent('variosync:refreshed', { detail: id }));
        }
      } catch (e) { /* the next event tries again */ }
    }, 150);
  }

  const streams = {};
  function stream(url) {
    if (!streams[url]) streams[url] = new EventSource(url);
    return streams[url];
  }

  function formatJob(row, job) {
    const set = (selector, text) => { const el = row.querySelector(selector); if (el) el.textContent = text; };
    set('.job-status', job.status);
    set('.job-message', job.error || job.message || '');
    const bar = row.querySelector('progress');
    if (bar) {
      const share = job.status === 'succeeded' ? 1 : (job.progress || 0);
      bar.value = Math.round(share * 100);
      bar.textContent = Math.round(share * 100) + '%';
    }
    const hours = (value) => Number(value).toFixed(6) + ' h';
    set('.job-hours', job.charged != null ? hours(job.charged) + ' charged' : hours(job.reserved) + ' reserved');
    row.dataset.status = job.status;
    const cancel = row.querySelector('.job-cancel');
    if (cancel && !['queued', 'running'].includes(job.status)) cancel.remove();
  }

  function listen(part) {
    const id = part.id;
    const kinds = (part.dataset.live || '').split(/\s+/).filter(Boolean);
    if (kinds.includes('datasets')) {
      stream('/api/v1/datasets/events').addEventListener('dataset', () => refresh(id));
    }
    if (kinds.includes('jobs')) {
      stream('/api/v1/jobs/events').addEventListener('job', (event) => {
        let job;
        try { job = JSON.parse(event.data); } catch (e) { return; }
        const current = document.getElementById(id);
        const row = current && current.querySelector('[data-job="' + CSS.escape(String(job.id)) + '"]');
        if (row) formatJob(row, job);
        else if (current) refresh(id);
      });
    }
  }

  document.addEventListener('DOMContentLoaded', () => {
    const button = document.getElementById('theme');
    if (button) {
      button.addEventListener('click', () => {
        const next = currentTheme() === 'dark' ? 'light' : 'dark';
        applyTheme(next);
        try { localStorage.setItem('theme', next); } catch (e) { /* storage may be off */ }
      });
    }
    document.querySelectorAll('[data-live]').forEach(listen);
  });
})();
