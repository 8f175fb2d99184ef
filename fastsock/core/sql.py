"""Model instances from hand-written SQL, for the few hot paths where the ORM's own cost shows.

Building and compiling a queryset costs hundreds of microseconds of CPU per query on a small
machine; a fixed query with its rows loaded here costs a few. The loading is the ORM's: each
column goes through the converters the database backend and the field would apply, so values
come back exactly as a queryset gives them (datetimes from SQLite text, and so on).
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

    def select(self, alias: str) -> str:
        quote = connections[self.using].ops.quote_name
        return ", ".join(f"{alias}.{quote(field.column)}" for field in self.fields)

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
