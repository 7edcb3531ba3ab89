/* Operator console: keyboard shortcuts, live-queue cues, small form helpers.
 * Loaded as a file (the CSP forbids inline scripts); no eval, no inline handlers. */
(function () {
  'use strict';

  var page = document.body.getAttribute('data-page') || '';
  var selectedNumber = null;
  var liveTimer = null;

  function isTyping(el) {
    if (!el) return false;
    var tag = el.tagName;
    return tag === 'INPUT' || tag === 'TEXTAREA' || tag === 'SELECT' || el.isContentEditable;
  }

  function submit(id) {
    var form = document.getElementById(id);
    if (form) {
      if (form.requestSubmit) form.requestSubmit(); else form.submit();
      return true;
    }
    return false;
  }

  function focus(id) {
    var el = document.getElementById(id);
    if (el) { el.focus(); return true; }
    return false;
  }

  function toggleHelp() {
    var help = document.getElementById('help');
    if (help) help.hidden = !help.hidden;
  }

  /* ---------------------------------------------------------------- queue */

  function rows() {
    return Array.prototype.slice.call(document.querySelectorAll('#queue-rows tr.row'));
  }

  function selectRow(index) {
    var all = rows();
    if (!all.length) return;
    index = Math.max(0, Math.min(all.length - 1, index));
    all.forEach(function (r) { r.classList.remove('selected'); });
    var row = all[index];
    row.classList.add('selected');
    row.scrollIntoView({ block: 'nearest' });
    selectedNumber = row.getAttribute('data-number');
  }

  function selectedIndex() {
    var all = rows();
    for (var i = 0; i < all.length; i++) {
      if (all[i].getAttribute('data-number') === selectedNumber) return i;
    }
    return -1;
  }

  function openSelected() {
    var all = rows();
    var i = selectedIndex();
    if (i >= 0) window.location.href = all[i].getAttribute('data-href');
  }

  function claimSelected() {
    var all = rows();
    var i = selectedIndex();
    if (i < 0) return;
    var form = all[i].querySelector('form.claim-form');
    if (form) { if (form.requestSubmit) form.requestSubmit(); else form.submit(); }
  }

  function restoreSelection() {
    if (!selectedNumber) return;
    var i = selectedIndex();
    if (i >= 0) rows()[i].classList.add('selected');
  }

  /* ---------------------------------------------------------------- bulk selection */

  // The checked numbers survive the live refresh of the panel (it replaces the rows).
  var picked = {};

  function pickBoxes() {
    return Array.prototype.slice.call(document.querySelectorAll('#queue-rows input.pick'));
  }

  function syncBulk() {
    var numbers = Object.keys(picked);
    var count = document.getElementById('bulk-count');
    if (count) count.textContent = '已选 ' + numbers.length + ' 件';
    var into = document.getElementById('bulk-into');
    if (into) {
      var keep = into.value;
      while (into.options.length > 1) into.remove(1);
      numbers.forEach(function (n) {
        var opt = document.createElement('option');
        opt.value = n;
        opt.textContent = n;
        into.appendChild(opt);
      });
      into.value = picked[keep] ? keep : (numbers.length ? numbers[0] : '');
    }
    var all = document.getElementById('pick-all');
    var boxes = pickBoxes();
    if (all) {
      var on = boxes.filter(function (b) { return b.checked; }).length;
      all.checked = boxes.length > 0 && on === boxes.length;
      all.indeterminate = on > 0 && on < boxes.length;
    }
  }

  function restorePicks() {
    pickBoxes().forEach(function (b) { b.checked = !!picked[b.value]; });
    // A ticket no longer on the page (claimed away, merged) cannot stay selected unseen.
    var shown = {};
    pickBoxes().forEach(function (b) { shown[b.value] = true; });
    Object.keys(picked).forEach(function (n) { if (!shown[n]) delete picked[n]; });
    syncBulk();
  }

  document.addEventListener('change', function (ev) {
    var t = ev.target;
    if (!t) return;
    if (t.id === 'pick-all') {
      pickBoxes().forEach(function (b) {
        b.checked = t.checked;
        if (t.checked) picked[b.value] = true; else delete picked[b.value];
      });
      syncBulk();
    } else if (t.classList && t.classList.contains('pick')) {
      if (t.checked) picked[t.value] = true; else delete picked[t.value];
      syncBulk();
    }
  });

  var bulkForm = document.getElementById('bulk-form');
  if (bulkForm) {
    // Checkboxes swapped in by a refresh belong to the form through their form="bulk-form".
    bulkForm.addEventListener('submit', function (ev) {
      var action = ev.submitter && ev.submitter.value;
      if (!Object.keys(picked).length) {
        ev.preventDefault();
        showCue('请先勾选工单');
      } else if (action === 'merge' && !window.confirm('确认把所选的其余工单作为重复件合并到主工单？')) {
        ev.preventDefault();
      }
    });
    restorePicks();
  }

  /* ---------------------------------------------------------------- live cue */

  function beep() {
    try {
      var Ctx = window.AudioContext || window.webkitAudioContext;
      if (!Ctx) return;
      var ctx = new Ctx();
      var osc = ctx.createOscillator();
      var gain = ctx.createGain();
      osc.frequency.value = 880;
      gain.gain.value = 0.05;
      osc.connect(gain);
      gain.connect(ctx.destination);
      osc.start();
      osc.stop(ctx.currentTime + 0.15);
      osc.onended = function () { ctx.close(); };
    } catch (e) { /* audio is a nicety; browsers may block it before a click */ }
  }

  var CUE_TEXT = {
    ticket: '新工单', followup: '群众补充了信息', emergency: '紧急工单', claimed: '工单已被认领',
    assigned: '工单已自动分配', updated: '工单已更新', delivery: '答复发送状态更新'
  };

  function hideCueLater(cue, ms) {
    clearTimeout(liveTimer);
    liveTimer = setTimeout(function () { cue.hidden = true; }, ms);
  }

  // A cue under the pointer or the keyboard focus stays until the operator moves on.
  var liveCue = document.getElementById('live-cue');
  if (liveCue) {
    ['mouseenter', 'focusin'].forEach(function (type) {
      liveCue.addEventListener(type, function () { clearTimeout(liveTimer); });
    });
    ['mouseleave', 'focusout'].forEach(function (type) {
      liveCue.addEventListener(type, function () { hideCueLater(liveCue, 3000); });
    });
  }

  function onLiveEvent(data) {
    var cue = document.getElementById('live-cue');
    var important = data.type === 'ticket' || data.type === 'followup' || data.type === 'emergency';
    if (cue) {
      var text = (CUE_TEXT[data.type] || '队列已更新') + (data.ticket_no ? '：' + data.ticket_no : '');
      cue.textContent = '';
      if (data.ticket_no) {
        // The cue names a ticket: one click (or Enter after Tab) opens it.
        var link = document.createElement('a');
        link.href = '/console/tickets/' + encodeURIComponent(data.ticket_no);
        link.textContent = text;
        link.title = '打开工单 ' + data.ticket_no;
        cue.appendChild(link);
      } else {
        cue.textContent = text;
      }
      cue.className = 'live-cue' + (data.type === 'emergency' ? ' emergency' : '');
      cue.hidden = false;
      hideCueLater(cue, 8000);
    }
    if (important) {
      window.__lastLiveTicket = data.ticket_no;
      if (document.hidden && document.title.indexOf('【新】') !== 0) document.title = '【新】' + document.title;
      beep();
    }
  }

  document.addEventListener('visibilitychange', function () {
    if (!document.hidden) document.title = document.title.replace(/^【新】/, '');
  });

  // Live connection state, shown by the header dot (and waited on by the browser test).
  document.body.addEventListener('htmx:sseOpen', function () { document.body.setAttribute('data-live', 'open'); });
  document.body.addEventListener('htmx:sseError', function () { document.body.setAttribute('data-live', 'error'); });

  document.body.addEventListener('htmx:sseMessage', function (ev) {
    var raw = ev.detail && ev.detail.data;
    if (!raw) return;
    try { onLiveEvent(JSON.parse(raw)); } catch (e) { /* not ours */ }
  });

  document.body.addEventListener('htmx:afterSwap', function (ev) {
    if (ev.target && ev.target.id === 'queue-panel') {
      restoreSelection();
      restorePicks();
      var fresh = window.__lastLiveTicket;
      if (fresh) {
        var row = document.querySelector('#queue-rows tr[data-number="' + fresh + '"]');
        if (row) row.classList.add('flash-new');
      }
    }
    if (ev.target && ev.target.id === 'nlu-suggest') applySuggestion(false);
  });

  /* ---------------------------------------------------------------- ticket page */

  function pickAlternative(n) {
    var btn = document.querySelector('.alternatives button.alt[data-key="' + n + '"]');
    if (btn) setField(btn.getAttribute('data-field'), btn.getAttribute('data-code'));
  }

  function setField(field, code) {
    var sel = document.getElementById('f-' + field);
    if (sel) {
      sel.value = code;
      sel.classList.add('changed');
    }
  }

  document.addEventListener('click', function (ev) {
    var t = ev.target;
    if (t && t.classList && t.classList.contains('alt')) {
      setField(t.getAttribute('data-field'), t.getAttribute('data-code'));
    }
    if (t && t.id === 'apply-suggest') applySuggestion(true);
    if (page === 'queue' && t && t.closest) {
      var row = t.closest('tr.row');
      if (row && !t.closest('a, button, form, input')) {
        selectedNumber = row.getAttribute('data-number');
        rows().forEach(function (r) { r.classList.toggle('selected', r === row); });
      }
    }
  });

  // Delegated: the reply panel may be swapped by a live refresh.
  document.addEventListener('change', function (ev) {
    var canned = ev.target;
    if (!canned || canned.id !== 'canned-select') return;
    var opt = canned.options[canned.selectedIndex];
    var text = opt && opt.getAttribute('data-text');
    var box = document.getElementById('reply-text');
    if (text && box) {
      var start = box.selectionStart || box.value.length;
      box.value = box.value.slice(0, start) + text + box.value.slice(box.selectionEnd || start);
      box.focus();
    }
    canned.selectedIndex = 0;
  });

  /* ---------------------------------------------------------------- live ticket page */

  var ticketBox = page === 'ticket' ? document.querySelector('.ticket[data-live-source]') : null;
  var refreshTimer = null;
  var refreshing = false;
  var refreshAgain = false;
  var refreshNews = '';  // what the events since the last refresh were, for the cue

  // A part the operator is working in (typing, a changed choice) is not swapped under their hands.
  function isDirty(part) {
    if (part.contains(document.activeElement) && isTyping(document.activeElement)) return true;
    var fields = part.querySelectorAll('input, textarea, select');
    for (var i = 0; i < fields.length; i++) {
      var f = fields[i];
      if (f.type === 'hidden' || f.type === 'submit' || f.type === 'button') continue;
      if (f.tagName === 'SELECT') {
        for (var j = 0; j < f.options.length; j++) {
          if (f.options[j].selected !== f.options[j].defaultSelected) return true;
        }
      } else if (f.type === 'checkbox' || f.type === 'radio') {
        if (f.checked !== f.defaultChecked) return true;
      } else if (f.value !== f.defaultValue) {
        return true;
      }
    }
    return false;
  }

  function swapParts(html) {
    var fresh = new DOMParser().parseFromString(html, 'text/html');
    var kept = 0;
    document.querySelectorAll('[data-live][id]').forEach(function (part) {
      var next = fresh.getElementById(part.id);
      if (!next) return;
      if (isDirty(part)) { kept += 1; return; }
      if (part.tagName === 'DETAILS' && part.open) next.setAttribute('open', '');
      var node = document.importNode(next, true);
      part.replaceWith(node);
      if (window.htmx) window.htmx.process(node);
    });
    document.body.setAttribute('data-refreshed', String(Date.now()));
    var news = refreshNews || '工单有更新';
    refreshNews = '';
    showCue(kept ? news + '（您正在填写的面板未刷新，提交后可见最新内容）' : news);
  }

  function refreshTicket() {
    if (refreshing) { refreshAgain = true; return; }
    refreshing = true;
    fetch(window.location.pathname, { credentials: 'same-origin', headers: { 'X-Console-Refresh': '1' } })
      .then(function (r) { return r.ok && r.url.indexOf('/console/tickets/') >= 0 ? r.text() : null; })
      .then(function (html) { if (html) swapParts(html); })
      .catch(function () { /* the next event tries again */ })
      .then(function () {
        refreshing = false;
        if (refreshAgain) { refreshAgain = false; refreshTicket(); }
      });
  }

  function showCue(text) {
    var cue = document.getElementById('live-cue');
    if (!cue) return;
    cue.textContent = text;
    cue.className = 'live-cue';
    cue.hidden = false;
    clearTimeout(liveTimer);
    liveTimer = setTimeout(function () { cue.hidden = true; }, 8000);
  }

  if (ticketBox && window.EventSource) {
    var mine = ticketBox.getAttribute('data-number');
    var source = new EventSource(ticketBox.getAttribute('data-live-source'));
    window.hotlineHotspotSource = source;  // the hot-spot banner listens here too (one stream a page)
    source.onopen = function () { document.body.setAttribute('data-live', 'open'); };
    source.onerror = function () { document.body.setAttribute('data-live', 'error'); };
    source.addEventListener('queue', function (ev) {
      var data;
      try { data = JSON.parse(ev.data); } catch (e) { return; }
      if (!data || data.ticket_no !== mine) return;
      if (data.type === 'followup') refreshNews = '群众补充了信息';
      // Several events of one action (status, claim, entry) make one fetch.
      clearTimeout(refreshTimer);
      refreshTimer = setTimeout(refreshTicket, 150);
    });
    window.addEventListener('pagehide', function () { source.close(); });
  }

  /* ---------------------------------------------------------------- manual intake */

  var touched = {};
  ['department', 'region', 'request_type'].forEach(function (f) {
    var sel = document.getElementById('i-' + f);
    if (sel) sel.addEventListener('change', function () { touched[f] = true; });
  });

  function applySuggestion(force) {
    var box = document.querySelector('#nlu-suggest .suggest');
    if (!box) return;
    ['department', 'region', 'request_type'].forEach(function (f) {
      var code = box.getAttribute('data-' + f);
      var sel = document.getElementById('i-' + f);
      // Fill what the operator has not chosen themselves; the button overrides.
      if (sel && code && (force || !touched[f])) sel.value = code;
    });
  }

  /* ---------------------------------------------------------------- keys */

  document.addEventListener('keydown', function (ev) {
    var el = document.activeElement;
    if (ev.key === 'Enter' && (ev.ctrlKey || ev.metaKey) && el && el.id === 'reply-text') {
      ev.preventDefault();
      submit('reply-form');
      return;
    }
    if (ev.key === 'Enter' && (ev.ctrlKey || ev.metaKey) && el && el.id === 'note-text') {
      ev.preventDefault();
      submit('note-form');
      return;
    }
    if (isTyping(el)) {
      if (ev.key === 'Escape') el.blur();
      return;
    }
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    var key = ev.key;
    // Enter on a focused button or link keeps its native meaning.
    if (key === 'Enter' && el && (el.tagName === 'BUTTON' || el.tagName === 'A')) return;
    if (key === '?') { toggleHelp(); ev.preventDefault(); return; }
    if (key === 'Escape') {
      var help = document.getElementById('help');
      if (help && !help.hidden) { help.hidden = true; return; }
    }
    if (page === 'queue') {
      if (key === 'j') { selectRow(selectedIndex() + 1); ev.preventDefault(); }
      else if (key === 'k') { selectRow(Math.max(0, selectedIndex() - 1)); ev.preventDefault(); }
      else if (key === 'Enter' || key === 'o') { openSelected(); ev.preventDefault(); }
      else if (key === 'c') { claimSelected(); ev.preventDefault(); }
      else if (key === '/') { focus('search'); ev.preventDefault(); }
    } else if (page === 'ticket') {
      if (key === 'c') { submit('claim-form'); ev.preventDefault(); }
      else if (key === 'Enter') { submit('classify-form'); ev.preventDefault(); }
      else if (key === 'r') { focus('reply-text'); ev.preventDefault(); }
      else if (key === 'n') { focus('note-text'); ev.preventDefault(); }
      else if (key === '1' || key === '2' || key === '3') { pickAlternative(key); ev.preventDefault(); }
      else if (key === 'a') {
        if (document.getElementById('answer-form') && window.confirm('确认标记为已答复（直接办结）？')) submit('answer-form');
        ev.preventDefault();
      }
      else if (key === 'u' || key === 'Escape') { window.location.href = '/console'; }
      else if (key === '/') { window.location.href = '/console'; }
    }
  });
})();
