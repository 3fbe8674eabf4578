"""The console: a web UI at `/ui` for assistants, threads, runs, chat, the store and crons.

The server renders page shells only (layout, headings, empty tables and forms); the browser
fills them with data from the same public HTTP API any client uses, sending the user's token,
so the console can never show what the API's auth filters hide. `http.disable_ui` leaves it out.
See docs/console.md.
"""

from aegra.ui.routes import console_route_handlers, console_template_config

__all__ = ["console_route_handlers", "console_template_config"]
