"""The dashboard: a web UI served by the gateway at ``/ui`` (docs/dashboard.md).

``static/`` holds the page (Preact, htm and Chart.js vendored, no build step), shipped in the
wheel and served by :mod:`turnout.dashboard.static`; the page reads only the admin API.
Sessions, CSRF tokens and roles of the people signed in: :mod:`turnout.dashboard.session`
and :mod:`turnout.dashboard.access`.
"""
