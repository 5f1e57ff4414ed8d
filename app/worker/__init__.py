"""Background work: the job queue (SAQ on Redis, or in-process), workers, leases and the sweeper."""
