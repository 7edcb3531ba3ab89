// NLU administration pages: buttons call the JSON API /api/v1/admin/nlu (CSRF header from <body hx-headers>).
(function () {
  "use strict";
  const API = "/api/v1/admin/nlu";
  const $ = (sel, root) => (root || document).querySelector(sel);
  const $$ = (sel, root) => Array.from((root || document).querySelectorAll(sel));

  function csrf() {
    try { return JSON.parse(document.body.getAttribute("hx-headers"))["X-CSRF-Token"]; } catch (e) { return ""; }
  }

  function say(text, kind) {
    const box = $("#nlu-message");
    if (!box) { return; }
    box.textContent = text;
    box.className = "flash " + (kind || "info");
    box.hidden = false;
  }

  async function call(method, path, body, isForm) {
    const headers = { "X-CSRF-Token": csrf() };
    let payload;
    if (isForm) { payload = body; } else if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      payload = JSON.stringify(body);
    }
    const resp = await fetch(API + path, { method, headers, body: payload, credentials: "same-origin" });
    let data = null;
    try { data = await resp.json(); } catch (e) { data = null; }
    if (!resp.ok) {
      const msg = (data && data.error && data.error.message) || ("请求失败（HTTP " + resp.status + "）");
      const err = new Error(msg);
      err.data = data;
      throw err;
    }
    return data;
  }

  const lines = (text) => text.split("\n").map((s) => s.trim()).filter(Boolean);
  const pct = (x) => (x === null || x === undefined ? "" : (100 * x).toFixed(1) + "%");

  // ------------------------------------------------------------ intents list: new intent, import
  function intentsPage() {
    const form = $("#new-intent-form");
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const name = form.elements.name.value.trim();
      try {
        await call("POST", "/intents", { name, examples: lines(form.elements.examples.value),
                                         answer: form.elements.answer.value.trim() || null });
        location.href = "/admin/nlu/intent?name=" + encodeURIComponent(name);
      } catch (e) { say(e.message, "error"); }
    });
    $("#import-button").addEventListener("click", async () => {
      const input = $("#import-files");
      if (!input.files.length) { say("请选择要导入的 YAML 文件", "error"); return; }
      const fd = new FormData();
      for (const f of input.files) { fd.append("files", f, f.name); }
      if ($("#import-replace").checked) { fd.append("replace", "1"); }
      try {
        const r = await call("POST", "/import", fd, true);
        say("已导入：新增 " + r.imported.added + " 条例句（跳过重复 " + r.imported.skipped + " 条），" +
            r.imported.resources + " 个正则/查找表/同义词", "info");
        setTimeout(() => location.reload(), 1200);
      } catch (e) { say("导入失败：" + e.message, "error"); }
    });
  }

  // ------------------------------------------------------------ answers (intent page and answers page)
  function answerForms() {
    $$(".answer-form").forEach((form) => form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      try {
        await call("PUT", "/answers", { key: form.dataset.key, text: form.elements.text.value });
        say("答复已保存，立即生效", "info");
      } catch (e) { say(e.message, "error"); }
    }));
  }

  function intentPage() {
    const name = $("#intent-name").dataset.intent;
    answerForms();
    $("#add-examples-form").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const texts = lines(ev.target.elements.texts.value);
      try {
        const r = await call("POST", "/examples", { intent: name, texts });
        say("已添加 " + r.added + " 条例句" + (r.skipped ? "（重复 " + r.skipped + " 条已跳过）" : ""), "info");
        setTimeout(() => location.reload(), 600);
      } catch (e) { say(e.message, "error"); }
    });
    $$("#examples tr[data-id]").forEach((row) => {
      $(".save-example", row).addEventListener("click", async () => {
        try { await call("PUT", "/examples/" + row.dataset.id, { text: $(".example-text", row).value }); say("已保存", "info"); }
        catch (e) { say(e.message, "error"); }
      });
      $(".delete-example", row).addEventListener("click", async () => {
        try { await call("DELETE", "/examples/" + row.dataset.id); row.remove(); say("已删除", "info"); }
        catch (e) { say(e.message, "error"); }
      });
    });
    $("#delete-intent").addEventListener("click", async () => {
      if (!confirm("删除意图 " + name + " 及其全部例句？")) { return; }
      try { await call("DELETE", "/intents?name=" + encodeURIComponent(name)); location.href = "/admin/nlu"; }
      catch (e) { say(e.message, "error"); }
    });
  }

  // ------------------------------------------------------------ suggestions (bulk)
  function suggestionsPage() {
    const all = $("#select-all");
    if (all) { all.addEventListener("change", () => $$(".pick").forEach((c) => { c.checked = all.checked; })); }
    async function review(action) {
      const decisions = $$("#suggestions tr[data-id]").filter((r) => $(".pick", r).checked).map((r) => {
        const d = { id: Number(r.dataset.id), action };
        if (action === "accept") {
          d.text = $(".s-text", r).value;
          const intent = $(".s-intent", r);
          if (intent && intent.value.trim()) { d.intent = intent.value.trim(); }
        }
        return d;
      });
      if (!decisions.length) { say("请先选择训练建议", "error"); return; }
      try {
        const r = await call("POST", "/suggestions/review", { decisions });
        say("已采纳 " + r.accepted + " 条（新增例句 " + r.examples + " 条），驳回 " + r.rejected + " 条", "info");
        setTimeout(() => location.reload(), 800);
      } catch (e) { say(e.message, "error"); }
    }
    $("#accept-selected").addEventListener("click", () => review("accept"));
    $("#reject-selected").addEventListener("click", () => review("reject"));
  }

  // ------------------------------------------------------------ training with live progress
  const JOB_LABELS = { running: "进行中", succeeded: "完成", failed: "失败", cancelled: "已取消" };

  function trainingPage() {
    const section = $("#job");
    let timer = null;
    let stream = null;

    function render(job) {
      section.hidden = false;
      section.dataset.job = job.id;
      $("#job-id").textContent = "#" + job.id;
      $("#job-status").textContent = JOB_LABELS[job.status] || job.status;
      section.dataset.status = job.status;
      $("#job-phase").textContent = job.phase || "";
      const p = Math.round((job.progress || 0) * 100);
      $("#job-bar").style.width = p + "%";
      $("#job-progress").setAttribute("aria-valuenow", String(p));
      $("#job-percent").textContent = (job.status === "running" ? "训练进度 " : "结束时进度 ") + p + "%";
      $("#job-times").textContent = "开始 " + (job.created_local || "") +
        (job.finished_local ? "，结束 " + job.finished_local : "");
      if (job.log !== undefined) {
        const log = $("#job-log");
        const atEnd = log.scrollTop + log.clientHeight >= log.scrollHeight - 20;
        log.textContent = job.log || "";
        if (atEnd) { log.scrollTop = log.scrollHeight; }
      }
      $("#cancel-button").hidden = job.status !== "running";
      const failed = job.status !== "running" && job.status !== "succeeded" && (job.reason || job.error);
      $("#job-error").hidden = !failed;
      $("#job-reason").textContent = failed ? (job.reason || job.error) : "";
      $("#job-detail").hidden = !(failed && job.detail);
      $("#job-detail-text").textContent = (failed && job.detail) || "";
      const link = $("#job-model");
      if (job.model_version && job.status !== "running") {
        link.hidden = false;
        link.href = "/admin/nlu/models/" + job.model_version;
        link.textContent = "查看 v" + job.model_version + " 的评估结果";
      }
      $("#train-button").disabled = job.status === "running";
    }

    // The state arrives over SSE; a slow poll covers a dropped stream (e.g. Redis itself failing).
    async function poll(id) {
      clearTimeout(timer);
      try {
        const job = await call("GET", "/jobs/" + id);
        if (String(section.dataset.job) === String(job.id) || !section.dataset.job) { render(job); }
        if (job.status !== "running") { return; }
      } catch (e) {
        say("暂时无法读取训练状态（" + e.message + "），正在重试…", "error");
      }
      timer = setTimeout(() => poll(id), stream && stream.readyState === 1 ? 5000 : 1000);
    }

    function follow() {
      if (!window.EventSource) { return; }
      stream = new EventSource("/admin/nlu/jobs/events");
      stream.addEventListener("job", (ev) => {
        let job;
        try { job = JSON.parse(ev.data); } catch (e) { return; }
        if (String(job.id) !== String(section.dataset.job)) { return; }
        render(job);
        if (job.status !== "running") { clearTimeout(timer); poll(job.id); }  // the final log, once
      });
    }

    $("#train-button").addEventListener("click", async () => {
      try {
        const r = await call("POST", "/train", {});
        $("#job-model").hidden = true;
        section.dataset.job = r.job_id;
        poll(r.job_id);
      } catch (e) { say(e.message, "error"); }
    });
    $("#cancel-button").addEventListener("click", async () => {
      try { await call("POST", "/jobs/" + section.dataset.job + "/cancel"); say("正在取消…", "info"); }
      catch (e) {
        say(e.message, "error");
        if (e.data && e.data.error && e.data.error.job) { render(e.data.error.job); }
      }
    });
    follow();
    if (section.dataset.job) { poll(section.dataset.job); }
  }

  // ------------------------------------------------------------ activation
  async function activate(version, button, status) {
    const reasonInput = $("#override-reason");
    const body = {};
    if (button.dataset.refused) {
      const reason = reasonInput ? reasonInput.value.trim() : "";
      if (!reason) { say("启用检查未通过：强制启用须填写理由", "error"); return; }
      body.override_reason = reason;
    }
    button.disabled = true;
    if (status) { status.textContent = "正在切换（启动新的 NLU 服务并等待就绪，约 20–40 秒）…"; }
    try {
      const r = await call("POST", "/models/" + version + "/activate", body);
      say("v" + version + " 已启用（" + (r.mode === "blue_green" ? "蓝绿切换" : "热加载") + "，用时 " + r.seconds + " 秒）", "info");
      if (status) { status.textContent = "已启用"; }
      setTimeout(() => location.reload(), 800);
    } catch (e) {
      button.disabled = false;
      if (status) { status.textContent = ""; }
      say(e.message, "error");
    }
  }

  // The active model's figures without retraining: start, then wait for the run to end and reload.
  function evaluateButton() {
    const button = $("#evaluate-button");
    const status = $("#evaluate-status");
    if (!button) { return; }
    const version = $("#model").dataset.version;
    async function wait() {
      try {
        const r = await call("GET", "/models/" + version);
        if (!r.evaluation.running) {
          if (r.evaluation.error) { say("评估未完成：" + r.evaluation.error, "error"); button.disabled = false; status.textContent = ""; return; }
          location.reload();
          return;
        }
      } catch (e) { /* a transient error: ask again */ }
      setTimeout(wait, 2000);
    }
    button.addEventListener("click", async () => {
      button.disabled = true;
      try {
        await call("POST", "/models/active/evaluate");
        status.textContent = "正在留出集上评估，完成后本页自动刷新…";
        wait();
      } catch (e) { button.disabled = false; say(e.message, "error"); }
    });
    if (status.dataset.running) { wait(); }
  }

  function modelsPage() {
    $$("button.activate").forEach((b) => b.addEventListener("click", () => {
      if (b.dataset.rollback) { activate(b.dataset.version, b, null); } else { location.href = "/admin/nlu/models/" + b.dataset.version; }
    }));
  }

  function modelPage() {
    const button = $("#activate-button");
    if (button) { button.addEventListener("click", () => activate(button.dataset.version, button, $("#activate-status"))); }
    evaluateButton();
    const box = $("#confusion");
    if (!box || !window.echarts) { return; }
    let m;
    try { m = JSON.parse(box.dataset.matrix); } catch (e) { return; }
    if (!m || !m.labels) { return; }
    const max = Math.max(1, ...m.cells.filter((c) => c[0] !== c[1]).map((c) => c[2]));
    const chart = window.echarts.init(box);
    chart.setOption({
      tooltip: { formatter: (p) => "应为 " + m.labels[p.value[1]] + "<br>判为 " + m.labels[p.value[0]] + "：" + p.value[2] },
      grid: { left: 190, bottom: 190, right: 30, top: 10 },
      xAxis: { type: "category", data: m.labels, axisLabel: { rotate: 60, fontSize: 10 }, name: "判为" },
      yAxis: { type: "category", data: m.labels, axisLabel: { fontSize: 10 }, name: "应为" },
      visualMap: { min: 0, max, calculable: true, orient: "horizontal", left: "center", bottom: 0, show: false },
      series: [{ type: "heatmap", data: m.cells, label: { show: true, fontSize: 9 } }],
    });
    box.dataset.rendered = "1";
  }

  const pages = {
    "nlu-intents": intentsPage, "nlu-intent": intentPage, "nlu-answers": answerForms,
    "nlu-suggestions": suggestionsPage, "nlu-training": trainingPage, "nlu-models": modelsPage, "nlu-model": modelPage,
  };
  document.addEventListener("DOMContentLoaded", () => {
    const fn = pages[document.body.dataset.page];
    if (fn) { fn(); }
  });
  void pct;
})();
