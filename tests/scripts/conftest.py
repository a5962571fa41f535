"""
The stub region and the in-memory client, shared with tests/client, and a
private PostgreSQL schema, shared with tests/region/test_peers.py.
"""

from tests.client.conftest import api, clock, memory_api, memory_http, region_url, stub  # noqa: F401
from tests.region.test_peers import schema_url  # noqa: F401
