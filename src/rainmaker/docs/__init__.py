"""Documentation generated from pattern metadata: ``rainmaker docs build``.

The site is static HTML rendered with Jinja2 templates from what patterns declare about
themselves (settings models and their JSON Schema, provides/requires, examples, migrations,
routes from OpenAPI) and from the app's composition (graph, start order, routes,
``.env.example``). Guides written in Markdown (``docs/guides``) are rendered beside them.
Every rebuild of the same inputs is byte-identical: nothing depends on time or dict order.
"""
