"""Creates the role groups and gives each its capabilities.

The capability table is frozen here (a migration must not change when crisis/roles.py
does); later changes to what a role holds come as new data migrations.
"""

from django.db import migrations

ROLES = ("analyst", "duty_officer", "manager", "legal", "executive")
A, D, M, L, E = ROLES
CAPABILITIES = {
    "view_console": ("Can view the console", ROLES),
    "report_incident": ("Can report an incident by hand", (A, D, M)),
    "triage_incident": ("Can change an incident's status, type and scope", (A, D, M)),
    "acknowledge_incident": ("Can acknowledge incidents and pages", (D, M)),
    "lower_severity": ("Can lower an incident's severity", (M,)),
    "manage_team": ("Can manage incident teams", (D, M)),
    "manage_roster": ("Can edit the duty roster and escalation policy", (M,)),
    "manage_roles": ("Can change users' roles", (M,)),
    "manage_sources": ("Can manage sources, topics and term libraries", (A, M)),
    "correct_analysis": ("Can correct a mention's sentiment or type", (A, M)),
    "draft_statement": ("Can draft statements and channel plans", (A, M)),
    "approve_pr": ("Can approve statements at PR-lead level", (M,)),
    "approve_legal": ("Can approve statements at legal level", (L,)),
    "approve_executive": ("Can approve statements at executive level", (E,)),
    "view_reports": ("Can read post-mortems and metrics", (M, E, A, L)),
    "edit_postmortem": ("Can write post-mortems", (A, M)),
}


def create_roles(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    ContentType = apps.get_model("contenttypes", "ContentType")
    ct, _ = ContentType.objects.get_or_create(app_label="crisis", model="accesspolicy")
    perms = {}
    for codename, (name, _roles) in CAPABILITIES.items():
        perms[codename], _ = Permission.objects.get_or_create(
            content_type=ct, codename=codename, defaults={"name": name}
        )
    for role in ROLES:
        group, _ = Group.objects.get_or_create(name=role)
        group.permissions.add(
            *[perms[c] for c, (_n, holders) in CAPABILITIES.items() if role in holders]
        )


def remove_roles(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=ROLES).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("crisis", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_roles, remove_roles)]
