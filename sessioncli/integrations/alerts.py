"""Alert payloads (Prometheus Alertmanager v4, Grafana, any JSON, text) as one readable message."""

from __future__ import annotations

import json
from typing import Any


class PayloadError(ValueError):
    """The body is not the payload the chosen format expects (HTTP 400)."""


def _labels(labels: Any, skip: tuple[str, ...] = ("alertname",)) -> str:
    if not isinstance(labels, dict):
        return ""
    return ", ".join(f"{k}={v}" for k, v in sorted(labels.items()) if k not in skip)


def _alert_lines(alert: dict[str, Any]) -> list[str]:
    labels = alert.get("labels") or {}
    notes = alert.get("annotations") or {}
    name = labels.get("alertname", "alert") if isinstance(labels, dict) else "alert"
    status = str(alert.get("status", "")).upper()
    lines = [f"• {name}" + (f" [{status}]" if status else "")]
    for key in ("summary", "description", "message"):
        if isinstance(notes, dict) and notes.get(key):
            lines.append(f"  {notes[key]}")
    shown = _labels(labels)
    if shown:
        lines.append(f"  labels: {shown}")
    for key in ("generatorURL", "dashboardURL", "panelURL", "silenceURL"):
        url = alert.get(key)
        if isinstance(url, str) and url:
            lines.append(f"  {key.removesuffix('URL').lower()}: {url}")
    values = alert.get("valueString")
    if isinstance(values, str) and values:
        lines.append(f"  values: {values}")
    return lines


def _alerts(payload: Any) -> list[dict[str, Any]]:
    if not isinstance(payload, dict) or not isinstance(payload.get("alerts"), list):
        raise PayloadError('expected a JSON object with an "alerts" list')
    return [a for a in payload["alerts"] if isinstance(a, dict)]


def format_alertmanager(payload: Any) -> str:
    """`[FIRING:2] Name (common labels)` then one block per alert."""
    alerts = _alerts(payload)
    status = str(payload.get("status", "firing")).upper()
    firing = sum(1 for a in alerts if a.get("status", "firing") == "firing")
    common = payload.get("commonLabels") or {}
    name = common.get("alertname", "") if isinstance(common, dict) else ""
    head = f"[{status}:{firing if status == 'FIRING' else len(alerts)}] {name}".rstrip()
    extra = _labels(common)
    if extra:
        head += f" ({extra})"
    lines = [head]
    for alert in alerts:
        lines.extend(_alert_lines(alert))
    url = payload.get("externalURL")
    if isinstance(url, str) and url:
        lines.append(url)
    return "\n".join(lines)


def format_grafana(payload: Any) -> str:
    """Grafana's title (or Alertmanager-style head), its message, then each alert."""
    alerts = _alerts(payload)
    title = payload.get("title")
    lines = (
        [str(title)]
        if isinstance(title, str) and title
        else [format_alertmanager(payload).split("\n")[0]]
    )
    message = payload.get("message")
    if isinstance(message, str) and message.strip() and len(alerts) == 0:
        lines.append(message.strip())
    for alert in alerts:
        lines.extend(_alert_lines(alert))
    url = payload.get("externalURL")
    if isinstance(url, str) and url:
        lines.append(url)
    return "\n".join(lines)


def format_json(payload: Any, field: str | None) -> str:
    """The value at a dotted PATH (e.g. `data.message`, `items.0.text`), or the whole JSON."""
    if field is None:
        return json.dumps(payload, ensure_ascii=False, indent=1)
    value = payload
    for part in field.split("."):
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            raise PayloadError(f"the payload has no field {field!r}")
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def render(kind: str, body: bytes, field: str | None) -> str:
    """The message text for a request body; PayloadError for a body that does not fit."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise PayloadError("the body is not UTF-8") from None
    if kind == "text":
        if not text.strip():
            raise PayloadError("empty body")
        return text.strip("\n")
    try:
        payload = json.loads(text)
    except (ValueError, RecursionError):
        raise PayloadError("the body is not JSON") from None
    if kind == "alertmanager":
        return format_alertmanager(payload)
    if kind == "grafana":
        return format_grafana(payload)
    return format_json(payload, field)
