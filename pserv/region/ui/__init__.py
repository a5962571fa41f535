"""
The operators' web UI: server-rendered pages (Jinja2 templates from
``templates/``), one mixin per part, each with its ``routes`` included in
:class:`pserv.region.api.RegionAPI`'s app.  Forms work without
JavaScript: a POST with the session's CSRF token, then a 303 redirect;
``/static/pserv.js`` only enhances them, and keeps the live pages up to
date from the event stream (docs/ui.md).

| module | holds |
| --- | --- |
| ``formats.py`` | the templates' filters: ages, durations, times, node paths |
| ``view.py`` | rendering a page for a credential; reading query arguments |
| ``nodes.py`` | ``/nodes`` (filter, search, sort, pages) and ``/nodes/rows`` |
| ``node.py`` | ``/nodes/<node>``: settings, actions, events, power (a reason too), cancel; its ``/panels`` |
| ``settings_form.py`` | a power type's settings as form fields, and a form's fields as an API body |
| ``node_form.py`` | ``/nodes/new`` and ``/nodes/<node>/edit`` (with the node's version: a change since is a 409) |
| ``bulk.py`` | ``/power/preview`` (the dry run, the confirmation), ``/power``, ``/batches/<batch>`` and its actions |
| ``live.py`` | what a live page tells its script: the newest event id, read before the page's data |
| ``clusters.py`` | ``/clusters`` |
| ``admin.py`` | ``/users`` and ``/tokens``, for admins |
| ``assets.py``, ``static.py`` | the static files (CSS, the script) and their versioned paths; ``/static/...`` |
| ``errors.py`` | the pages for a path that is none, or a method it does not take |
"""
