/*
 * "复制工单号": copies the text of the element a button's data-copy names.  The button shows only
 * where the browser lets a page write to the clipboard (HTTPS or localhost); elsewhere the number
 * stays selectable text.
 */
(function () {
  "use strict";

  function setUp() {
    if (!navigator.clipboard || !window.isSecureContext) { return; }
    Array.prototype.forEach.call(document.querySelectorAll("button.copy-button[data-copy]"), function (button) {
      var target = document.querySelector(button.getAttribute("data-copy"));
      var status = button.parentNode.querySelector(".copy-status");
      if (!target) { return; }
      button.hidden = false;
      button.addEventListener("click", function () {
        var text = (target.textContent || "").trim();
        if (!text) { return; }
        navigator.clipboard.writeText(text).then(function () {
          if (status) { status.textContent = "已复制"; }
        }, function () {
          if (status) { status.textContent = "复制失败，请长按工单号手动复制"; }
        });
      });
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", setUp);
  } else {
    setUp();
  }
})();
