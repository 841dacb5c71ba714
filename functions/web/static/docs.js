// Swagger UI over the OpenAPI document this function carries (its hashed URL is the page's data-spec).
"use strict";
window.addEventListener("DOMContentLoaded", function () {
  window.ui = window.SwaggerUIBundle({
    url: document.documentElement.dataset.spec,
    dom_id: "#swagger-ui",
    deepLinking: true,
    validatorUrl: null, // never ask swagger.io to validate: the page talks to its own origin only (CSP connect-src)
  });
});
