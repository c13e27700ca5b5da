"""The web console: server-rendered pages (Jinja2 templates) on the API server, over the service layer."""
