// Starts Swagger UI on the endpoint API page with the document embedded in it
// (a script file, as the Content-Security-Policy forbids inline scripts).
(function () {
  "use strict";
  var spec = JSON.parse(document.getElementById("endpoint-openapi").textContent);
  window.SwaggerUIBundle({
    spec: spec,
    dom_id: "#swagger-ui",
    presets: [window.SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    // Never send the browser's cookies to the endpoint: it takes its token only.
    requestInterceptor: function (req) { req.credentials = "omit"; return req; },
  });
  // Swagger's server list has no label of its own (axe: select-name); it is
  // drawn, and redrawn, after the page loads.
  var root = document.getElementById("swagger-ui");
  new MutationObserver(function () {
    var servers = document.getElementById("servers");
    if (servers && !servers.hasAttribute("aria-label")) servers.setAttribute("aria-label", "Server");
  }).observe(root, { childList: true, subtree: true });
})();
