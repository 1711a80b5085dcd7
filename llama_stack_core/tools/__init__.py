"""The core's side of the Tool Runtime API: tool schemas and argument checks, the catalog of each tool group's tools,
and the bounds on every call. Providers only list a group's tools and run them."""
