/* Analytics dashboard: loads /api/v1/console/analytics with the page's query and draws each chart
   with the vendored ECharts; PNG per chart (getDataURL), a 大屏 (projector) mode, live hot-spot alerts. */
(function () {
  'use strict';
  var root = document.getElementById('analytics');
  if (!root || !window.echarts) return;
  var charts = {};
  var data = null;
  var dark = false;

  function el(tag, text, cls) {
    var node = document.createElement(tag);
    if (text !== undefined) node.textContent = text;
    if (cls) node.className = cls;
    return node;
  }

  function pct(v) { return v === null || v === undefined ? '—' : v + '%'; }

  var BUILDERS = {
    volume_by_day: function (d) {
      var s = d.volume_by_day.series;
      return {
        tooltip: { trigger: 'axis' }, legend: { top: 0, data: s.map(function (x) { return x.name; }) },
        grid: { left: 48, right: 16, top: 40, bottom: 40 },
        xAxis: { type: 'category', data: d.volume_by_day.days.map(function (x) { return x.slice(5); }) },
        yAxis: { type: 'value', name: '件', minInterval: 1 },
        series: s.map(function (x) { return { name: x.name, type: 'line', stack: 'all', areaStyle: {}, data: x.data }; })
      };
    },
    volume_by_hour: function (d) {
      var s = d.volume_by_hour.series;
      return {
        tooltip: { trigger: 'axis' }, legend: { top: 0, data: s.map(function (x) { return x.name; }) },
        grid: { left: 48, right: 16, top: 40, bottom: 40 },
        xAxis: { type: 'category', data: d.volume_by_hour.hours.map(function (h) { return h + '时'; }) },
        yAxis: { type: 'value', name: '件', minInterval: 1 },
        series: s.map(function (x) { return { name: x.name, type: 'bar', stack: 'all', data: x.data }; })
      };
    },
    heat_map: function (d) {
      var h = d.heat_map;
      var di = {}, ri = {}, max = 1;
      h.departments.forEach(function (x, i) { di[x.code] = i; });
      h.regions.forEach(function (x, i) { ri[x.code] = i; });
      var cells = h.cells.map(function (c) { max = Math.max(max, c.count); return [ri[c.region], di[c.department], c.count]; });
      return {
        tooltip: { position: 'top', formatter: function (p) {
          return h.departments[p.value[1]].name + ' × ' + h.regions[p.value[0]].name + '：' + p.value[2] + ' 件'; } },
        grid: { left: 150, right: 16, top: 10, bottom: 80 },
        xAxis: { type: 'category', data: h.regions.map(function (x) { return x.name; }), axisLabel: { rotate: 40 } },
        yAxis: { type: 'category', data: h.departments.map(function (x) { return x.name; }) },
        visualMap: { min: 0, max: max, calculable: true, orient: 'horizontal', left: 'center', bottom: 0, itemHeight: 120 },
        series: [{ type: 'heatmap', data: cells, label: { show: cells.length < 80 } }]
      };
    },
    request_types: function (d) {
      return {
        tooltip: { trigger: 'item', formatter: '{b}：{c} 件（{d}%）' }, legend: { bottom: 0 },
        series: [{ type: 'pie', radius: ['35%', '65%'],
          data: d.request_types.map(function (t) { return { name: t.name, value: t.count }; }) }]
      };
    },
    backlog: function (d) {
      return {
        title: { text: '未办结 ' + d.backlog.open + ' 件，已超期 ' + d.backlog.overdue + ' 件', left: 'center',
          textStyle: { fontSize: 13 } },
        tooltip: { trigger: 'axis' }, grid: { left: 48, right: 16, top: 40, bottom: 30 },
        xAxis: { type: 'category', data: d.backlog.ages.map(function (a) { return a.label; }) },
        yAxis: { type: 'value', name: '件', minInterval: 1 },
        series: [{ type: 'bar', data: d.backlog.ages.map(function (a) { return a.count; }), label: { show: true, position: 'top' } }]
      };
    },
    bot: function (d) {
      var b = d.bot, parts = [];
      if (b.faq_answers !== null) parts.push({ name: '智能客服直接答复', value: b.faq_answers });
      parts.push({ name: '引导拨打紧急电话', value: b.emergencies });
      parts.push({ name: '转人工', value: b.handoffs });
      return {
        title: { text: '预分类更正率 ' + pct(b.correction_rate_pct) + '（' + b.corrected + '/' + b.predicted + '）',
          left: 'center', textStyle: { fontSize: 13 } },
        tooltip: { trigger: 'item', formatter: '{b}：{c}（{d}%）' }, legend: { bottom: 0 },
        series: [{ type: 'pie', radius: ['35%', '62%'], top: 20, data: parts }]
      };
    },
    units: function (d) {
      var u = d.units.filter(function (x) { return x.received > 0; });
      var names = u.map(function (x) { return x.name; });
      function s(name, key) { return { name: name, type: 'bar', data: u.map(function (x) { return x[key]; }) }; }
      return {
        tooltip: { trigger: 'axis' }, legend: { top: 0 }, grid: { left: 48, right: 16, top: 40, bottom: 90 },
        xAxis: { type: 'category', data: names, axisLabel: { rotate: 40, interval: 0 } },
        yAxis: { type: 'value', max: 100, name: '%' },
        series: [s('响应率', 'response_pct'), s('解决率', 'solved_pct'), s('满意率', 'satisfied_pct')]
      };
    }
  };

  function empty(key, d) {
    if (key === 'volume_by_day' || key === 'volume_by_hour') return d[key].series.length === 0;
    if (key === 'heat_map') return d.heat_map.cells.length === 0;
    if (key === 'request_types') return d.request_types.length === 0;
    if (key === 'units') return !d.units.some(function (x) { return x.received > 0; });
    return false;
  }

  function draw() {
    Object.keys(BUILDERS).forEach(function (key) {
      var box = root.querySelector('[data-chart="' + key + '"]');
      if (!box) return;
      if (charts[key]) { charts[key].dispose(); delete charts[key]; }
      box.textContent = '';
      if (empty(key, data)) { box.appendChild(el('div', '所选范围内没有数据', 'chart-empty')); return; }
      var chart = echarts.init(box, dark ? 'dark' : null);
      var option = BUILDERS[key](data);
      if (dark) option.backgroundColor = 'transparent';
      chart.setOption(option);
      charts[key] = chart;
    });
  }

  function kpis() {
    function set(name, text) { var n = root.querySelector('[data-kpi="' + name + '"]'); if (n) n.textContent = text; }
    set('total', data.total + ' 件');
    set('open', data.backlog.open + ' 件');
    set('overdue', data.backlog.overdue + ' 件');
    set('bot_share', pct(data.bot.bot_share_pct));
    set('correction', pct(data.bot.correction_rate_pct));
    var refreshed = document.getElementById('refreshed');
    if (refreshed && data.refreshed_at) {
      refreshed.textContent = '来件数据来自每日汇总表，最近更新：' + new Date(data.refreshed_at).toLocaleString('zh-CN') + '。';
    }
  }

  function load() {
    fetch(root.dataset.api + '?' + root.dataset.query, { credentials: 'same-origin', headers: { Accept: 'application/json' } })
      .then(function (r) { return r.json().then(function (body) { return { ok: r.ok, body: body }; }); })
      .then(function (res) {
        if (!res.ok) throw new Error(res.body.error ? res.body.error.message : '加载失败');
        data = res.body;
        kpis();
        draw();
        document.body.setAttribute('data-analytics', 'ready');
      })
      .catch(function (err) {
        var msg = el('div', '数据加载失败：' + err.message, 'flash error');
        root.insertBefore(msg, root.firstChild);
        document.body.setAttribute('data-analytics', 'error');
      });
  }

  // Each chart as a PNG (on white, twice the screen's resolution, readable when printed).
  root.addEventListener('click', function (ev) {
    var key = ev.target && ev.target.getAttribute('data-png');
    if (!key || !charts[key]) return;
    var link = document.createElement('a');
    link.href = charts[key].getDataURL({ type: 'png', pixelRatio: 2, backgroundColor: dark ? '#04122b' : '#fff' });
    link.download = 'analytics-' + key + '.png';
    document.body.appendChild(link);
    link.click();
    link.remove();
  });

  // 大屏: dark theme, large type, full screen when the browser allows it; Esc leaves.
  function bigscreen(on) {
    dark = on;
    document.body.classList.toggle('bigscreen', on);
    document.getElementById('bigscreen').textContent = on ? '退出大屏' : '大屏模式';
    if (data) draw();
  }
  document.getElementById('bigscreen').addEventListener('click', function () {
    var on = !document.body.classList.contains('bigscreen');
    bigscreen(on);
    if (on && document.documentElement.requestFullscreen) document.documentElement.requestFullscreen().catch(function () {});
    if (!on && document.fullscreenElement) document.exitFullscreen();
  });
  document.addEventListener('fullscreenchange', function () { if (!document.fullscreenElement && dark) bigscreen(false); });
  window.addEventListener('resize', function () { Object.keys(charts).forEach(function (k) { charts[k].resize(); }); });

  // Hot-spot alerts as the worker raises them.
  var list = document.getElementById('hotspot-alerts');
  if (list && window.EventSource) {
    var source = new EventSource(list.dataset.events);
    window.hotlineHotspotSource = source;  // the hot-spot banner listens here too (one stream a page)
    source.addEventListener('hotspot', function (ev) {
      var a;
      try { a = JSON.parse(ev.data); } catch (e) { return; }
      if (!a || a.type !== 'hotspot') return;
      var emptyNote = list.querySelector('[data-empty]');
      if (emptyNote) emptyNote.remove();
      var item = el('li', undefined, 'fresh');
      item.setAttribute('data-alert', a.id);
      item.setAttribute('data-kind', a.kind);
      item.appendChild(el('strong', (a.kind === 'rising' ? '上升话题·' : '') + (a.region_name || '全市')));
      item.appendChild(document.createTextNode(' “' + a.keyword + '” ' + a.count + ' 件 '));
      item.appendChild(el('span', '刚刚', 'muted'));
      list.insertBefore(item, list.firstChild);
    });
    source.addEventListener('open', function () { document.body.setAttribute('data-live', 'open'); });
  }

  load();
})();
