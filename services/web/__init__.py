"""Web pages for every role: server-rendered (Jinja2), live over Server-Sent Events."""
