"""The HTTP API and the ``sipcheck serve`` service (the only package that imports aiohttp).

`create_app` builds the application; `supervisor` runs it in several worker
processes sharing one port.
"""

from sipcheck.api.app import create_app

__all__ = ["create_app"]
