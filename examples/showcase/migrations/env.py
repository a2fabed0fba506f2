"""Alembic environment of a pymodular application (written by `pymodular db revision`).

`pymodular db ...` and the database module's start run the migrations on the
application's own connection; this file hands that connection to Alembic. Edit it as
Alembic's documentation describes; keep the connection it is given.
"""

from alembic import context

from pymodular.modules.database import Migrations

Migrations.run_environment(context)
