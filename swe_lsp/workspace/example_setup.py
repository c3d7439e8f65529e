"""What a framework needs before an issue's example can run in the workspace's sandbox.

An example is written for its reader's session, and a Django session has settings: without them
`class A(models.Model)` or `forms.URLField().clean(...)` stops at the first settings lookup, and not
one of the framework's functions the issue is about runs. Django is a third of SWE-bench Lite (71
of 207 issues); 33 of those carry code (unfenced, converted from Trac).

`setup_code` gives the example program's `prelude` (`example_run.tracer_input`) for the workspace:
- Django's own tree (the `django` package at the root, as in the framework's repository): settings
  configured in place with the contrib apps a snippet uses (auth's `User`, the admin);
- a Django project (a `manage.py` naming its `DJANGO_SETTINGS_MODULE`): the project's own settings;
- anything else: nothing.

In both Django cases the database is an in-memory SQLite one whatever the settings say: the example
runs in a sandbox that must not reach the user's database server (nor need its driver), and most
ORM issues show in the SQL a query compiles to, which needs no table. And an app of the example's
own (`EXAMPLE_APP`, a module made in memory) is installed, the example's namespace named as its
`models`: a snippet's `class Book(models.Model)` then registers as a model of that app instead of
failing for want of an `app_label`.
"""

from __future__ import annotations

import re

from swe_lsp.workspace.files import read_text
from swe_lsp.workspace.index import RepoIndex

# The example's own app (never a project's module name: the name says whose it is).
EXAMPLE_APP = "swe_lsp_example"
# The apps a snippet for Django's own tree most often uses: auth's `User` and `Group` (with the
# content types they need), sessions and messages (the admin's requirements) and the admin.
CONTRIB_APPS = (
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.admin",
)
_SETTINGS_MODULE = re.compile(r"""DJANGO_SETTINGS_MODULE["']\s*,\s*["']([\w.]+)["']""")

# Written for any Python 3 from 3.6 on and any Django from 2.2 on; `{settings}` is the project's
# settings module (empty: configure in place) and `{root}` the folder its manage.py is in.
_DJANGO = """# Django's settings for the example
import os as _os, sys as _sys, tempfile as _tempfile, types as _types
import django as _django
from django.conf import settings as _settings
_app = _types.ModuleType({app!r})
_app.__path__ = [_tempfile.mkdtemp()]
_sys.modules[{app!r}] = _app
_memory = {{"default": {{"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}}}
if {settings!r}:
    _sys.path.insert(0, _os.path.abspath({root!r}))
    _os.environ["DJANGO_SETTINGS_MODULE"] = {settings!r}
    _settings.INSTALLED_APPS = list(_settings.INSTALLED_APPS) + [{app!r}]
    _settings.DATABASES = _memory
else:
    _settings.configure(INSTALLED_APPS=list({contrib!r}) + [{app!r}], DATABASES=_memory,
                        SECRET_KEY="swe-lsp-example")
_django.setup()
__name__ = {app!r} + ".models"
del _os, _sys, _tempfile, _types, _django, _settings, _app, _memory
"""


def setup_code(index: RepoIndex) -> str:
    """The code the example program runs before the workspace's imports, for the workspace of
    `index`: Django's settings for Django's own tree or a Django project (module docstring), else
    nothing."""
    paths = set(index.paths)
    if "django/__init__.py" in paths and "django/conf/__init__.py" in paths:
        return _DJANGO.format(app=EXAMPLE_APP, settings="", root=".", contrib=CONTRIB_APPS)
    for path in sorted(p for p in paths if p == "manage.py" or p.endswith("/manage.py")):
        found = _SETTINGS_MODULE.search(read_text(index.root, path) or "")
        if found:
            root = path.rpartition("/")[0] or "."
            return _DJANGO.format(app=EXAMPLE_APP, settings=found.group(1), root=root, contrib=CONTRIB_APPS)
    return ""
