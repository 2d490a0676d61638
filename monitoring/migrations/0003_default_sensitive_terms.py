"""Load the product's default sensitive-term library (monitoring/rules/data)."""

from __future__ import annotations

from typing import Any

from django.db import migrations


def load_default_terms(apps: Any, schema_editor: Any) -> None:
    from monitoring.rules import default_terms

    SensitiveTerm = apps.get_model("monitoring", "SensitiveTerm")
    existing = set(SensitiveTerm.objects.values_list("term", flat=True))
    SensitiveTerm.objects.bulk_create(
        [
            SensitiveTerm(term=row.term, category=row.category, weight=row.weight)
            for row in default_terms()
            if row.term not in existing
        ]
    )


class Migration(migrations.Migration):
    dependencies = [("monitoring", "0002_topics_alerts")]

    operations = [migrations.RunPython(load_default_terms, migrations.RunPython.noop)]
