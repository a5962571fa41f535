"""
The stub region and the in-memory client, shared with tests/client.
"""

from tests.client.conftest import api, clock, memory_api, memory_http, region_url, stub  # noqa: F401
