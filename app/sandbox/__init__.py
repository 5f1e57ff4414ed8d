"""The offline sandbox cloud: a real Terraform provider served from Python, backed by a local store.

Nothing here is imported by the provider process beyond these constants, so keep this module free
of heavy imports: provider launch time is part of every ``terraform`` command.
"""

from __future__ import annotations

PROVIDER_HOST = "board3.local"
PROVIDER_NAMESPACE = "board3"
PROVIDER_TYPE = "sandbox"
PROVIDER_SOURCE = f"{PROVIDER_HOST}/{PROVIDER_NAMESPACE}/{PROVIDER_TYPE}"
PROVIDER_VERSION = "0.1.0"

STORE_ENV = "BOARD3_SANDBOX_STORE"
"""Environment variable naming the store file (overridden by the provider's ``store_path``)."""
