"""Capabilities of the incident core: recording a milestone by hand and managing group
webhooks. Frozen here, like 0002_roles."""

from django.db import migrations

NEW_CAPABILITIES = {
    "record_milestone": (
        "Can record an SLA milestone by hand, with its evidence",
        ("duty_officer", "manager"),
    ),
    "manage_notifications": ("Can manage group webhooks for roles and teams", ("manager",)),
}


def add_capabilities(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    ContentType = apps.get_model("contenttypes", "ContentType")
    ct, _ = ContentType.objects.get_or_create(app_label="crisis", model="accesspolicy")
    for codename, (name, roles) in NEW_CAPABILITIES.items():
        permission, _ = Permission.objects.get_or_create(
            content_type=ct, codename=codename, defaults={"name": name}
        )
        for role in roles:
            group, _ = Group.objects.get_or_create(name=role)
            group.permissions.add(permission)


def remove_capabilities(apps, schema_editor):
    apps.get_model("auth", "Permission").objects.filter(
        content_type__app_label="crisis", codename__in=NEW_CAPABILITIES
    ).delete()


class Migration(migrations.Migration):
    dependencies = [("crisis", "0003_incident_core")]

    operations = [migrations.RunPython(add_capabilities, remove_capabilities)]
