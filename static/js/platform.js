// Small behaviours HTMX cannot do: local time on hover, copy buttons, reveal.
(function () {
  // Without this script the navigation simply stays unfolded.
  document.documentElement.classList.add("js");
  function localTimes(root) {
    root.querySelectorAll("time.utc[datetime]").forEach(function (el) {
      if (el.title) return;
      var d = new Date(el.getAttribute("datetime"));
      if (!isNaN(d)) el.title = d.toLocaleString() + " (your local time)";
    });
  }
  document.addEventListener("DOMContentLoaded", function () { localTimes(document); });
  document.addEventListener("htmx:afterSwap", function (e) { localTimes(e.target); });
  // Live lists poll only while someone can see them (a hidden tab costs no query).
  document.addEventListener("htmx:beforeRequest", function (e) {
    var live = e.detail.elt.closest && e.detail.elt.closest("[data-live=visible-only]");
    if (live && live === e.detail.elt && document.hidden) e.preventDefault();
  });

  document.addEventListener("click", function (e) {
    var copy = e.target.closest("[data-copy-target]");
    if (copy) {
      var src = document.getElementById(copy.getAttribute("data-copy-target"));
      if (src) {
        var text = src.getAttribute("data-secret") || src.value || src.textContent;
        navigator.clipboard.writeText(text.trim()).then(function () {
          var old = copy.textContent; copy.textContent = "Copied";
          setTimeout(function () { copy.textContent = old; }, 1200);
        });
      }
      e.preventDefault();
    }
    var toggle = e.target.closest(".nav-toggle");
    if (toggle) {
      var links = document.getElementById(toggle.getAttribute("aria-controls"));
      var open = toggle.getAttribute("aria-expanded") !== "true";
      toggle.setAttribute("aria-expanded", open ? "true" : "false");
      if (links) links.classList.toggle("open", open);
    }
    var reveal = e.target.closest("[data-reveal-target]");
    if (reveal) {
      var el = document.getElementById(reveal.getAttribute("data-reveal-target"));
      if (el) {
        var hidden = el.getAttribute("data-hidden") !== "false";
        el.textContent = hidden ? el.getAttribute("data-secret") : "••••••••••••";
        el.setAttribute("data-hidden", hidden ? "false" : "true");
        reveal.textContent = hidden ? "Hide" : "Reveal";
      }
      e.preventDefault();
    }
  });
})();
