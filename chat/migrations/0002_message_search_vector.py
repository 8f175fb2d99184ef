"""Full-text search on PostgreSQL: a generated tsvector column with a GIN index.

The column is not a model field: only PostgreSQL has it, and only the search selector reads it.
SQLite searches with a plain substring match instead (see chat/search.py).
"""

from django.db import migrations

ADD_SEARCH = [
    "ALTER TABLE chat_message ADD COLUMN search_vector tsvector "
    "GENERATED ALWAYS AS (to_tsvector('simple'::regconfig, coalesce(content, ''))) STORED",
    "CREATE INDEX chat_message_search ON chat_message USING gin (search_vector)",
]
DROP_SEARCH = [
    "DROP INDEX IF EXISTS chat_message_search",
    "ALTER TABLE chat_message DROP COLUMN IF EXISTS search_vector",
]


def _run_on_postgresql(statements):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        for statement in statements:
            schema_editor.execute(statement)

    return run


class Migration(migrations.Migration):
    dependencies = [("chat", "0001_initial")]

    operations = [
        migrations.RunPython(_run_on_postgresql(ADD_SEARCH), _run_on_postgresql(DROP_SEARCH), elidable=False),
    ]
