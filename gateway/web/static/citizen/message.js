/*
 * 网民留言 form helpers: check the chosen images before a long upload, and stop a double
 * tap from posting twice.  The server checks everything again; without this script the
 * form still works.
 */
(function () {
  "use strict";

  var form = document.getElementById("message-form");
  if (!form) { return; }
  var input = document.getElementById("images");
  var error = document.getElementById("images-client-error");
  var submit = document.getElementById("message-submit");
  var maxFiles = parseInt(input.getAttribute("data-max-files"), 10) || 3;
  var maxMb = parseInt(input.getAttribute("data-max-mb"), 10) || 5;
  var allowed = (input.getAttribute("accept") || "").split(",");

  function check() {
    var files = Array.prototype.slice.call(input.files || []);
    var problems = [];
    if (files.length > maxFiles) {
      problems.push("最多上传 " + maxFiles + " 张图片（您选择了 " + files.length + " 张）");
    }
    files.forEach(function (file) {
      if (allowed.indexOf(file.type) < 0) {
        problems.push("图片「" + file.name + "」格式不支持，只能上传 JPG、PNG、GIF 或 WEBP 图片");
      } else if (file.size > maxMb * 1024 * 1024) {
        problems.push("图片「" + file.name + "」超过 " + maxMb + " MB，请压缩后再上传");
      }
    });
    var message = problems.join("；");
    error.textContent = message;
    error.hidden = !message;
    input.setCustomValidity(message);
    return !message;
  }

  // A preview of each chosen image, so a citizen sees what they are about to send.
  var previews = document.getElementById("images-preview");

  function preview() {
    if (!previews) { return; }
    while (previews.firstChild) { previews.removeChild(previews.firstChild); }
    Array.prototype.slice.call(input.files || []).slice(0, maxFiles).forEach(function (file) {
      if (allowed.indexOf(file.type) < 0 || file.size > maxMb * 1024 * 1024) { return; }
      var reader = new FileReader();
      reader.onload = function () {
        var img = document.createElement("img");
        img.src = reader.result;  // a data: URL (the page's CSP allows img-src data:)
        img.alt = "待上传图片：" + file.name;
        img.className = "image-preview";
        previews.appendChild(img);
      };
      reader.readAsDataURL(file);
    });
  }

  input.addEventListener("change", function () { check(); preview(); });

  form.addEventListener("submit", function (ev) {
    if (!check()) {
      ev.preventDefault();
      input.focus();
      return;
    }
    // Disabled after the submission started, so the button does not cancel it.
    window.setTimeout(function () {
      submit.disabled = true;
      submit.textContent = "正在提交，请稍候…";
    }, 0);
  });

  // Coming back with the browser's back button restores this page from its cache.
  window.addEventListener("pageshow", function () {
    submit.disabled = false;
    submit.textContent = "提交留言";
  });
})();
