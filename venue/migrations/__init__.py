"""Alembic migrations of the venue's database, shipped inside the package.

Run them with :func:`venue.store.upgrade` (no alembic.ini needed). To write a new
revision during development::

    alembic -c venue/migrations/alembic.ini revision -m "what changes" --autogenerate

(with ``sqlalchemy.url`` pointed at a database at head).
"""
