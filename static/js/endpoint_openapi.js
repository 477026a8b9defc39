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
})();
