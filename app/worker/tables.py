"""Workers: every worker process records itself and its last heartbeat (``/health/ready``)."""

from __future__ import annotations

from piccolo.columns import Integer, Timestamptz, Varchar
from piccolo.table import Table


class WorkerRow(Table, tablename="workers"):
    id = Varchar(length=128, primary_key=True)
    hostname = Varchar(length=255, default="")
    pid = Integer(default=0)
    concurrency = Integer(default=1)
    running = Integer(default=0)
    started_at = Timestamptz()
    last_seen_at = Timestamptz(index=True)
