/*
 * The citizen web chat (/chat): vanilla JS, no build step, loaded as a file because the CSP
 * forbids inline scripts.
 *
 * - One random session id per browser, kept in localStorage (the only key to the
 *   conversation, so it is long and random).
 * - Messages go out through POST /api/v1/web/messages with a client_message_id, so a
 *   retried send is stored once.
 * - Replies arrive over server-sent events.  An event only says "something new": the
 *   entries themselves are read from the messages endpoint after the last id seen, which
 *   renders each entry exactly once and fills any gap left by a dropped connection.
 * - Every text from the citizen, the bot or an operator is put in the page with
 *   textContent, never innerHTML.
 */
(function () {
  "use strict";

  var SID_KEY = "hotline.chat.session";
  var CONTACT_KEY = "hotline.chat.contact";
  var OPERATOR_KEY = "hotline.chat.operator";
  var SID_RE = /^[A-Za-z0-9_-]{16,64}$/;
  var PAGE_SIZE = 200; // the messages endpoint's limit per call
  var WATCH_MS = 4000;

  var root = document.getElementById("chat");
  if (!root) { return; }
  var api = root.getAttribute("data-api");
  var maxChars = parseInt(root.getAttribute("data-max-chars"), 10) || 5000;
  var log = document.getElementById("chat-log");
  var form = document.getElementById("chat-form");
  var input = document.getElementById("chat-input");
  var errorBox = document.getElementById("chat-error");
  var connState = document.getElementById("conn-state");
  var operatorNotice = document.getElementById("operator-notice");
  var ticketBanner = document.getElementById("ticket-banner");
  var ticketNoEl = document.getElementById("ticket-no");
  var ticketLink = document.getElementById("ticket-link");
  var nameInput = document.getElementById("chat-name");
  var phoneInput = document.getElementById("chat-phone");
  var phoneError = document.getElementById("chat-phone-error");
  var contactBox = document.getElementById("chat-contact");

  // ---- storage (private browsing may refuse localStorage: fall back to memory) ----

  var memory = {};
  var storage = (function () {
    try {
      window.localStorage.setItem("hotline.probe", "1");
      window.localStorage.removeItem("hotline.probe");
      return window.localStorage;
    } catch (e) {
      return null;
    }
  })();

  function load(key) {
    try { return storage ? storage.getItem(key) : (memory[key] || null); } catch (e) { return memory[key] || null; }
  }

  function save(key, value) {
    memory[key] = value;
    try { if (storage) { storage.setItem(key, value); } } catch (e) { /* memory copy suffices */ }
  }

  function forget(key) {
    delete memory[key];
    try { if (storage) { storage.removeItem(key); } } catch (e) { /* nothing to forget */ }
  }

  function randomId(bytes) {
    var buf = new Uint8Array(bytes);
    window.crypto.getRandomValues(buf);
    var bin = "";
    for (var i = 0; i < buf.length; i++) { bin += String.fromCharCode(buf[i]); }
    return window.btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function sessionId() {
    var sid = load(SID_KEY);
    if (!sid || !SID_RE.test(sid)) {
      sid = randomId(24); // 32 characters of base64url
      save(SID_KEY, sid);
    }
    return sid;
  }

  var sid = sessionId();

  // ---- rendering ----

  var lastId = 0;
  var rendered = {};
  var pending = []; // optimistic bubbles of messages not yet read back: {text, clientId, el, failed}
  var lastAuthor = null;
  var shownTicket = null;
  var operatorShown = false;

  function scrollTo(el) {
    if (el && el.scrollIntoView) { el.scrollIntoView({ block: "nearest" }); }
  }

  function bubble(kind, who, text) {
    var li = document.createElement("li");
    li.className = "msg msg-" + kind;
    if (who) {
      var author = document.createElement("span");
      author.className = "msg-author";
      author.textContent = who;
      li.appendChild(author);
    }
    var body = document.createElement("span");
    body.className = "msg-text";
    appendWithSurveyLinks(body, text);
    li.appendChild(body);
    log.appendChild(li);
    scrollTo(li);
    return li;
  }

  // The 一事一评 link in an answer and the emergency numbers (a tap dials them) become links;
  // everything else stays text.  The numbers only stand alone, never inside a longer one.
  var LINKS = /(https?:\/\/[A-Za-z0-9.:\[\]-]+\/survey\/[0-9]+\.[A-Za-z0-9_=-]+)|(?<![0-9])(110|119|120|122)(?![0-9])/g;

  function appendWithSurveyLinks(el, text) {
    var last = 0;
    var match;
    text = text || "";
    LINKS.lastIndex = 0;
    while ((match = LINKS.exec(text)) !== null) {
      el.appendChild(document.createTextNode(text.slice(last, match.index)));
      var a = document.createElement("a");
      if (match[1]) {
        a.href = match[1];
        a.rel = "noopener";
        a.className = "survey-link";
      } else {
        a.href = "tel:" + match[2];
        a.className = "tel-link";
      }
      a.textContent = match[0];
      el.appendChild(a);
      last = match.index + match[0].length;
    }
    el.appendChild(document.createTextNode(text.slice(last)));
  }

  function systemLine(text) {
    return bubble("system", null, text);
  }

  function authorLabel(entry) {
    if (entry.author === "citizen") { return "我"; }
    if (entry.author === "operator") {
      return entry.author_name ? "人工客服 · " + entry.author_name : "人工客服";
    }
    return "12345 智能客服";
  }

  function setStatus(item, text) {
    var status = item.el.querySelector(".msg-status");
    if (!status) {
      status = document.createElement("span");
      status.className = "msg-status";
      item.el.appendChild(status);
    }
    status.textContent = text;
  }

  function settle(item) {
    item.el.classList.remove("msg-pending", "msg-failed");
    var extra = item.el.querySelectorAll(".msg-status, .msg-retry");
    for (var i = 0; i < extra.length; i++) { extra[i].remove(); }
  }

  function showTicket(number) {
    if (!number || number === shownTicket) { return; }
    shownTicket = number;
    ticketNoEl.textContent = number;
    ticketLink.setAttribute("href", "/progress?ticket_no=" + encodeURIComponent(number));
    ticketBanner.hidden = false;
  }

  function showOperator(name, live) {
    var text = "人工客服已接入" + (name ? "，工作人员「" + name + "」正在为您服务" : "，工作人员正在为您服务");
    operatorNotice.textContent = text;
    operatorNotice.hidden = false;
    if (live) { systemLine(text); } // in the log too, where the citizen is reading
    // Kept so a reload still says who is serving, even before the operator's first reply.
    save(OPERATOR_KEY, JSON.stringify({ sid: sid, name: name || "" }));
    operatorShown = true;
  }

  // The bot's question, while it is the last word, gets one-tap answers: those the entry carries
  // (the details the bot gathers, ticketing/intake/gathering.py: the county list, 不方便提供, the two
  // departments), or 确认 / 不是 under the phone confirmation (ticketing/intake/contact_details.py),
  // known by its fixed wording.
  var CONFIRM_QUESTION = "确认作为联系电话吗？";
  var confirmBox = null;

  function clearConfirm() {
    if (confirmBox) { confirmBox.remove(); confirmBox = null; }
  }

  function offerConfirm(li, words, label) {
    clearConfirm();
    var box = document.createElement("div");
    box.className = "quick-replies confirm-replies";
    box.setAttribute("role", "group");
    box.setAttribute("aria-label", label);
    words.forEach(function (word) {
      var button = document.createElement("button");
      button.type = "button";
      button.className = "quick-reply";
      button.textContent = word;
      button.addEventListener("click", function () { send(word); });
      box.appendChild(button);
    });
    li.appendChild(box);
    confirmBox = box;
  }

  function renderEntry(entry) {
    if (!entry || typeof entry.id !== "number" || rendered[entry.id]) { return; }
    rendered[entry.id] = true;
    clearConfirm();
    if (entry.id > lastId) { lastId = entry.id; }
    lastAuthor = entry.author;
    var text = typeof entry.text === "string" ? entry.text : "";
    if (entry.author === "citizen") {
      // The optimistic bubble of this message becomes the stored one, in place.
      for (var i = 0; i < pending.length; i++) {
        if (pending[i].text === text.trim()) {
          settle(pending[i]);
          pending.splice(i, 1);
          if (entry.ticket_no) { showTicket(entry.ticket_no); }
          return;
        }
      }
    }
    var kind = entry.author === "citizen" || entry.author === "operator" ? entry.author : "bot";
    var li = bubble(kind, authorLabel(entry), text);
    var words = Array.isArray(entry.quick_replies) ? entry.quick_replies.filter(function (w) {
      return typeof w === "string" && w;
    }) : [];
    if (kind === "bot" && words.length) {
      offerConfirm(li, words, "快捷回复");
    } else if (kind === "bot" && text.indexOf(CONFIRM_QUESTION) >= 0) {
      offerConfirm(li, ["确认", "不是"], "确认联系电话");
    }
    if (entry.author === "operator" && !operatorShown) { showOperator(entry.author_name, false); }
    if (entry.ticket_no) { showTicket(entry.ticket_no); }
  }

  // ---- reading the conversation ----

  var syncing = null;
  var syncAgain = false;

  function sync() {
    if (syncing) {
      syncAgain = true;
      return syncing;
    }
    syncing = (async function () {
      try {
        do {
          syncAgain = false;
          for (;;) {
            var url = api + "/sessions/" + encodeURIComponent(sid) + "/messages?after=" + lastId;
            var resp = await fetch(url, { cache: "no-store", headers: { Accept: "application/json" } });
            if (!resp.ok) { throw new Error("HTTP " + resp.status); }
            var data = await resp.json();
            var messages = data.messages || [];
            messages.forEach(renderEntry);
            if (messages.length < PAGE_SIZE) { break; }
          }
        } while (syncAgain);
      } finally {
        syncing = null;
      }
    })();
    return syncing;
  }

  function syncQuietly() {
    sync().catch(function () { /* the watchdog tries again */ });
  }

  function parse(data) {
    try { return JSON.parse(data); } catch (e) { return null; }
  }

  var source = null;
  var connected = false;

  function connect() {
    if (!window.EventSource) { return; } // the watchdog polls instead
    source = new EventSource(api + "/sessions/" + encodeURIComponent(sid) + "/events");
    source.addEventListener("open", function () {
      connected = true;
      connState.hidden = true;
      root.setAttribute("data-live", "open"); // for styling and for the browser tests
      syncQuietly(); // whatever arrived while we were away
    });
    source.addEventListener("message", function (ev) {
      var event = parse(ev.data);
      if (event && event.ticket_no) { showTicket(event.ticket_no); }
      syncQuietly();
    });
    source.addEventListener("operator_joined", function (ev) {
      var event = parse(ev.data) || {};
      showOperator(typeof event.operator === "string" ? event.operator : "", true);
      if (event.ticket_no) { showTicket(event.ticket_no); }
    });
    source.addEventListener("error", function () {
      connected = false;
      connState.hidden = false;
      root.setAttribute("data-live", "closed");
      if (source.readyState === EventSource.CLOSED) {
        // The browser gave up (e.g. the server answered an error): start over a bit later.
        source = null;
        window.setTimeout(connect, 5000);
      }
    });
  }

  function awaitingReply() {
    for (var i = 0; i < pending.length; i++) { if (!pending[i].failed) { return true; } }
    return lastAuthor === "citizen";
  }

  // A safety net for the moments the live stream cannot cover (reconnecting, a proxy that
  // buffers events, a reply published just before the stream subscribed).
  window.setInterval(function () {
    if (document.visibilityState === "hidden") { return; }
    if (!connected || awaitingReply()) { syncQuietly(); }
  }, WATCH_MS);

  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") { syncQuietly(); }
  });

  // ---- sending ----

  function showError(text) {
    errorBox.textContent = text || "";
    errorBox.hidden = !text;
  }

  function contact() {
    var raw = parse(load(CONTACT_KEY) || "{}") || {};
    return { name: typeof raw.name === "string" ? raw.name : "", phone: typeof raw.phone === "string" ? raw.phone : "" };
  }

  function fail(item, text) {
    item.failed = true;
    item.el.classList.remove("msg-pending");
    item.el.classList.add("msg-failed");
    setStatus(item, text);
    if (!item.el.querySelector(".msg-retry")) {
      var retry = document.createElement("button");
      retry.type = "button";
      retry.className = "msg-retry";
      retry.textContent = "重新发送";
      retry.addEventListener("click", function () {
        retry.remove();
        deliver(item);
      });
      item.el.appendChild(retry);
    }
  }

  async function deliver(item) {
    item.failed = false;
    item.el.classList.remove("msg-failed");
    item.el.classList.add("msg-pending");
    setStatus(item, "发送中…");
    var body = { session_id: sid, text: item.text, client_message_id: item.clientId };
    var who = contact();
    if (who.name) { body.name = who.name; }
    if (who.phone) { body.phone = who.phone; }
    var resp;
    try {
      resp = await fetch(api + "/messages", {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify(body),
      });
    } catch (e) {
      fail(item, "网络异常，消息未发出");
      return;
    }
    if (resp.status === 202) {
      if (item.el.classList.contains("msg-pending")) { setStatus(item, "已发送，请稍候…"); }
      return;
    }
    var error = {};
    try { error = (await resp.json()).error || {}; } catch (e) { /* not JSON */ }
    if (error.code === "invalid_phone" || error.code === "invalid_name") {
      contactBox.open = true;
      phoneError.textContent = error.message || "联系方式格式不正确";
      phoneError.hidden = false;
      fail(item, "请修改联系方式后点“重新发送”");
      return;
    }
    fail(item, error.message || "发送失败，请稍后重试");
  }

  function send(text) {
    text = (text || "").trim();
    if (!text) {
      showError("请输入内容后再发送");
      return false;
    }
    if (text.length > maxChars) {
      showError("内容不能超过 " + maxChars + " 个字（当前 " + text.length + " 个字）");
      return false;
    }
    showError("");
    clearConfirm();
    var item = { text: text, clientId: randomId(12), el: bubble("citizen", "我", text), failed: false };
    pending.push(item);
    deliver(item);
    return true;
  }

  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    if (send(input.value)) { input.value = ""; }
    input.focus();
  });

  input.addEventListener("keydown", function (ev) {
    // Enter sends, Shift+Enter starts a new line; never while an IME is composing Chinese.
    if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing && ev.keyCode !== 229) {
      ev.preventDefault();
      if (send(input.value)) { input.value = ""; }
    }
  });

  var quick = root.querySelectorAll(".quick-reply");
  for (var q = 0; q < quick.length; q++) {
    quick[q].addEventListener("click", function (ev) {
      send(ev.currentTarget.getAttribute("data-text"));
    });
  }

  // ---- contact details (optional, sent with every message) ----

  (function () {
    var saved = contact();
    nameInput.value = saved.name;
    phoneInput.value = saved.phone;
    function store() {
      phoneError.hidden = true;
      save(CONTACT_KEY, JSON.stringify({ name: nameInput.value.trim(), phone: phoneInput.value.trim() }));
    }
    nameInput.addEventListener("change", store);
    phoneInput.addEventListener("change", store);
  })();

  document.getElementById("chat-new").addEventListener("click", function () {
    // A shared computer: the next person must not see this conversation.
    forget(SID_KEY);
    forget(OPERATOR_KEY);
    if (source) { source.close(); }
    window.location.reload();
  });

  // ---- start ----

  (function restoreOperator() {
    var saved = parse(load(OPERATOR_KEY) || "null");
    if (saved && saved.sid === sid) { showOperator(saved.name, false); }
  })();

  document.getElementById("chat-ui").hidden = false;
  syncQuietly();
  connect();
})();
