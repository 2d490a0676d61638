from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from crisis.roles import CAPABILITIES


class AccessPolicy(models.Model):
    """Holds the role capabilities as permissions; it has no table of its own."""

    class Meta:
        managed = False
        default_permissions = ()
        permissions = [(code, desc) for code, (desc, _roles) in CAPABILITIES.items()]
        verbose_name = _("access policy")


class Heartbeat(models.Model):
    """The last sign of life of a background process, read by /healthz."""

    service = models.CharField(max_length=32)
    node = models.CharField(max_length=200)
    pid = models.PositiveIntegerField()
    beat_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["service", "node"], name="heartbeat_service_node")
        ]
        verbose_name = _("heartbeat")

    def __str__(self) -> str:
        return f"{self.service}@{self.node}"
