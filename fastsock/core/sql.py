"""Model rows in and out with hand-written SQL, for the few hot paths where the ORM's own cost shows.

Building and compiling a queryset costs hundreds of microseconds of CPU per query on a small
machine (``bulk_create`` more); a fixed statement costs a few. The conversions are the ORM's:
values are prepared by each field for saving, and each column read goes through the
converters the backend and the field would apply, so rows come back exactly as a queryset
gives them (datetimes from SQLite text, and so on).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Generic, TypeVar

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import Model

M = TypeVar("M", bound=Model)


class ModelColumns(Generic[M]):
    """Every concrete column of a model: how to select them, and how to load a row of them."""

    def __init__(self, model: type[M], using: str = DEFAULT_DB_ALIAS) -> None:
        self.model = model
        self.using = using
        self.fields = list(model._meta.concrete_fields)
        self.attnames = [field.attname for field in self.fields]
        self.width = len(self.fields)
        self._converters: list[tuple[int, list[Callable[..., Any]], Any]] | None = None
        self._selects: dict[str, str] = {}

    def select(self, alias: str) -> str:
        if alias not in self._selects:
            quote = connections[self.using].ops.quote_name
            self._selects[alias] = ", ".join(f"{alias}.{quote(field.column)}" for field in self.fields)
        return self._selects[alias]

    def insert(self, objs: Sequence[M]) -> None:
        """INSERT new instances in one statement and give each its primary key, as
        ``bulk_create`` does (ids in the order of ``objs``; ``pre_save`` runs, so
        ``auto_now_add`` fields are set; no signals, as with ``bulk_create``)."""
        if not objs:
            return
        connection = connections[self.using]
        meta = self.model._meta
        fields = [field for field in self.fields if field is not meta.pk]
        quote = connection.ops.quote_name
        row = "(" + ", ".join(["%s"] * len(fields)) + ")"
        params = [field.get_db_prep_save(field.pre_save(obj, True), connection) for obj in objs for field in fields]
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(field.column) for field in fields)})"  # noqa: S608
                f" VALUES {', '.join([row] * len(objs))} RETURNING {quote(meta.pk.column)}",
                params,
            )
            for obj, (pk,) in zip(objs, cursor.fetchall(), strict=True):
                obj.pk = pk
                obj._state.adding = False
                obj._state.db = self.using

    def load(self, row: Sequence[Any], start: int = 0) -> M:
        values = list(row[start : start + self.width])
        connection = connections[self.using]
        for index, converters, expression in self.converters():
            for convert in converters:
                values[index] = convert(values[index], expression, connection)
        return self.model.from_db(self.using, self.attnames, values)

    def converters(self) -> list[tuple[int, list[Callable[..., Any]], Any]]:
        """Per column, the backend's and the field's converters (as the SQL compiler collects them)."""
        if self._converters is None:
            connection = connections[self.using]
            found = []
            for index, field in enumerate(self.fields):
                expression = field.get_col(self.model._meta.db_table)
                converters = connection.ops.get_db_converters(expression) + expression.get_db_converters(connection)
                if converters:
                    found.append((index, converters, expression))
            self._converters = found
        return self._converters
