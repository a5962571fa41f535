"""
The operators' web UI: server-rendered pages (Jinja2 templates from
``templates/``), one mixin per part, each with its ``routes`` included in
:class:`pserv.region.api.RegionAPI`'s app.  Forms work without
JavaScript: a POST with the session's CSRF token, then a 303 redirect;
``/static/pserv.js`` only enhances them.

| module | holds |
| --- | --- |
| ``formats.py`` | the templates' filters: ages, durations, times, node paths |
| ``view.py`` | rendering a page for a credential; reading query arguments |
| ``nodes.py`` | ``/nodes`` (filter, search, sort, pages) and ``/nodes/rows`` |
| ``node.py`` | ``/nodes/<node>``: settings, actions, events, power and cancel |
| ``settings_form.py`` | a power type's settings as form fields, and a form's fields as an API body |
| ``node_form.py`` | ``/nodes/new`` and ``/nodes/<node>/edit`` |
| ``clusters.py`` | ``/clusters`` |
| ``admin.py`` | ``/users`` and ``/tokens``, for admins |
| ``assets.py``, ``static.py`` | the static files (CSS, the script) and their versioned paths; ``/static/...`` |
| ``errors.py`` | the pages for a path that is none, or a method it does not take |
"""
