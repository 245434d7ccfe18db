"""GraphiQL served from this process, so it works where no CDN is reachable.

The JavaScript and CSS of GraphiQL and React come from the `graphene-django-graphiql-static` wheel,
which ships them as plain files (we only read its static folder; nothing of Django is imported).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

ASSETS_PACKAGE = "graphene_django_graphiql_static"
ASSETS_URL = "/graphiql-assets"
REQUIRED = ("react.production.min.js", "react-dom.production.min.js", "graphiql.min.js", "graphiql.min.css")

DEFAULT_QUERY = """# graphinv: the inventory as a graph. Run with the pink button or Ctrl-Enter.
{
  stats { projects shoots machines instances disks ips }
  projects(first: 5) {
    edges {
      node {
        name
        shoots(first: 3) {
          name
          machines(first: 3) { name instance { name status } }
        }
      }
    }
  }
}
"""


def assets_dir() -> Path | None:
    """The folder holding GraphiQL's files, or None when the package is not installed."""
    try:
        root = resources.files(ASSETS_PACKAGE)
    except ModuleNotFoundError:
        return None
    folder = Path(str(root)) / "static" / ASSETS_PACKAGE
    return folder if all((folder / name).is_file() for name in REQUIRED) else None


def _js_string(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("`", "\\`").replace("$", "\\$").replace("</", "<\\/")
    return f"`{escaped}`"


def graphiql_page(endpoint: str = "/graphql") -> str:
    if assets_dir() is None:
        return (
            "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>graphinv GraphQL</title></head>"
            "<body><h1>graphinv GraphQL API</h1><p>The API answers POST requests at "
            f"<code>{endpoint}</code>. The in-browser IDE needs the Python package "
            "<code>graphene-django-graphiql-static</code>, which is not installed.</p></body></html>"
        )
    return f"""<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>graphinv · GraphiQL</title>
  <link rel="stylesheet" href="{ASSETS_URL}/graphiql.min.css">
  <style>html, body, #graphiql {{ height: 100%; margin: 0; overflow: hidden; }}</style>
</head>
<body>
  <div id="graphiql">Loading GraphiQL…</div>
  <script src="{ASSETS_URL}/react.production.min.js"></script>
  <script src="{ASSETS_URL}/react-dom.production.min.js"></script>
  <script src="{ASSETS_URL}/graphiql.min.js"></script>
  <script>
    // With api.token set, add {{"Authorization": "Bearer <token>"}} in the Headers tab below the editor.
    const fetcher = GraphiQL.createFetcher({{ url: "{endpoint}" }});
    ReactDOM.render(
      React.createElement(GraphiQL, {{
        fetcher: fetcher,
        defaultQuery: {_js_string(DEFAULT_QUERY)},
        isHeadersEditorEnabled: true,
        shouldPersistHeaders: false,
      }}),
      document.getElementById("graphiql"),
    );
  </script>
</body>
</html>
"""
