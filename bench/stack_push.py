"""What the stack benchmarks share: a free port, and one webhook push timed and recorded."""

from __future__ import annotations

import json
import socket
import time
import urllib.error
import urllib.request
from typing import Any


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def push(base: str, token: str, records: list[dict[str, Any]], **fields: Any) -> dict[str, Any]:
    """POST ``records`` to the demo webhook. Returns ``fields`` plus sent (epoch seconds),
    status (the HTTP code, or the error's class name), inbox_id and answered_ms."""
    request = urllib.request.Request(
        f"{base}/api/v1/sources/demo-push/mentions",
        data=json.dumps(records, ensure_ascii=False).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
    )
    entry: dict[str, Any] = {**fields, "sent": time.time()}
    try:
        with urllib.request.urlopen(request, timeout=30) as resp:
            entry["status"] = resp.status
            entry["inbox_id"] = json.loads(resp.read()).get("inbox_id")
    except urllib.error.HTTPError as exc:
        entry["status"] = exc.code
    except OSError as exc:
        entry["status"] = type(exc).__name__
    entry["answered_ms"] = round((time.time() - entry["sent"]) * 1000, 1)
    return entry
