// The OpenAPI document this gateway serves, rendered by Swagger UI (swagger-ui-dist, embedded in
// the gateway: see gateway/assets.txt), with "try it out" sent to this same gateway.
'use strict';
fetch('/api/openapi.json', { cache: 'no-store' })
  .then((r) => r.json())
  .then((spec) => {
    spec.servers = [{ url: window.location.origin, description: 'this gateway' }];
    window.ui = SwaggerUIBundle({
      spec,
      dom_id: '#swagger-ui',
      deepLinking: true,
      tryItOutEnabled: false,
      persistAuthorization: false, // tokens stay in this page's memory, never in localStorage
    });
  });
