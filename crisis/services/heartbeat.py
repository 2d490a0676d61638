"""Signs of life of the background processes, read by /healthz."""

from __future__ import annotations

import os
import socket

from django.utils import timezone

from crisis.models import Heartbeat


def heartbeat_record(*, service: str) -> Heartbeat:
    """Record that ``service`` (worker or beat) on this host and process is alive."""
    node = f"{socket.gethostname()}:{os.getpid()}"
    beat, _created = Heartbeat.objects.update_or_create(
        service=service,
        node=node,
        defaults={"pid": os.getpid(), "beat_at": timezone.now()},
    )
    return beat
