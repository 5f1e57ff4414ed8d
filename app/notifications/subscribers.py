"""The reactions to domain events this package registers on the ``Runtime`` (``app.events.bus``
runs them inside the emitting transaction): notifications for the people concerned, and a
delivery for every webhook that wants the event."""

from __future__ import annotations

from app.notifications.deliveries import fan_out
from app.notifications.recipients import notify

SUBSCRIBERS = (notify, fan_out)
