/* Hot-spot alerts (bursts in a region, rising topics) on every console page of the supervisors,
 * leaders and admins, as the worker raises them.  One stream a page: the page's own when it has one
 * (the queue's htmx stream, the ticket page's, the analytics page's), else one opened here.  Alerts
 * stay in the tab's sessionStorage until dismissed, so the banner follows the user from page to page. */
(function () {
  'use strict';

  var banner = document.getElementById('hotspot-banner');
  if (!banner) return;
  var STORE = 'hotline.hotspots';
  var KEEP = 5;

  function stored() {
    try { return JSON.parse(window.sessionStorage.getItem(STORE) || '[]') || []; } catch (e) { return []; }
  }

  function store(list) {
    try { window.sessionStorage.setItem(STORE, JSON.stringify(list.slice(-KEEP))); } catch (e) { /* private mode */ }
  }

  function render() {
    var list = stored();
    banner.textContent = '';
    list.forEach(function (alert) {
      var row = document.createElement('div');
      row.className = 'hotspot-alert';
      row.setAttribute('data-alert', alert.id);
      var label = document.createElement('strong');
      label.textContent = banner.dataset.label;
      row.appendChild(label);
      row.appendChild(document.createTextNode(' ' + alert.text + ' '));
      var link = document.createElement('a');
      link.href = banner.dataset.link;
      link.textContent = banner.dataset.view;
      row.appendChild(link);
      var close = document.createElement('button');
      close.type = 'button';
      close.className = 'link';
      close.setAttribute('data-dismiss', alert.id);
      close.textContent = banner.dataset.dismiss;
      close.addEventListener('click', function () {
        store(stored().filter(function (other) { return other.id !== alert.id; }));
        render();
      });
      row.appendChild(close);
      banner.appendChild(row);
    });
    banner.hidden = list.length === 0;
  }

  function onAlert(ev) {
    var alert;
    try { alert = JSON.parse(ev.data); } catch (e) { return; }
    if (!alert || alert.type !== 'hotspot' || !alert.id) return;
    var list = stored().filter(function (other) { return other.id !== alert.id; });
    list.push({ id: alert.id, text: String(alert.text || alert.keyword || '') });
    store(list);
    render();
  }

  var heard = [];
  function listen(source) {
    if (!source || heard.indexOf(source) >= 0) return;
    heard.push(source);
    source.addEventListener('hotspot', onAlert);
    // Says when alerts can arrive (the browser tests wait for it).
    if (source.readyState === 1) banner.setAttribute('data-listening', 'open');
    source.addEventListener('open', function () { banner.setAttribute('data-listening', 'open'); });
  }

  render();
  var wanted = banner.dataset.source;
  var htmxStream = document.querySelector('[sse-connect="' + wanted + '"]');
  if (htmxStream) {
    // htmx opens (and reopens) the stream after this script ran: catch each source as it opens.
    document.body.addEventListener('htmx:sseOpen', function (ev) { listen(ev.detail && ev.detail.source); });
    return;
  }
  if (window.hotlineHotspotSource) {
    listen(window.hotlineHotspotSource);
    return;
  }
  if (!window.EventSource) return;
  var source = new EventSource(wanted);
  listen(source);
  window.addEventListener('pagehide', function () { source.close(); });
})();
