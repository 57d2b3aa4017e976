"""GraphiQL's page, as the API serves it in development.

Strawberry's page loads its scripts from unpkg.com; ours come from the API
itself (`graphiql_assets/`, vendored by `scripts/vendor-graphiql-assets.sh`),
so the explorer works offline. It opens on the seed's catalog query and, under
`./dev`, with the dev admin token already in its headers.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

GRAPHIQL_ASSETS = "/graphiql-assets"
"""Where the API serves GraphiQL's scripts and styles, under the paths unpkg.com uses."""
ASSETS_DIR = Path(__file__).resolve().parent / "graphiql_assets"
EXAMPLE_QUERY = """# The catalog, as the seed's example reads it: run it with the play button.
# Writes need the admin token, already in Headers below when ./dev serves this page.
{
  products(first: 10) {
    id
    name
    price
    stock
    category { id name }
  }
}
"""


def graphiql_page(strawberry_page: str, *, token: str | None) -> str:
    """Strawberry's GraphiQL page with our assets, our example query and, given one, a token."""
    html = strawberry_page.replace("https://unpkg.com/", f"{GRAPHIQL_ASSETS}/")
    html = re.sub(
        r"const EXAMPLE_QUERY = `.*?`;",
        lambda _: f"const EXAMPLE_QUERY = `{EXAMPLE_QUERY}`;",
        html,
        count=1,
        flags=re.DOTALL,
    )
    if token is not None:
        headers = json.dumps(json.dumps({"Authorization": f"Bearer {token}"}))
        html = html.replace(
            "React.useState(parameters.headers)",
            f"React.useState(parameters.headers || {headers})",
        )
    return html
