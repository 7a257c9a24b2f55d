"""Talk to an Argyll server from Python: the same API as the in-process ``Engine``, over REST.

```python
from argyll.client import Client

with Client("http://127.0.0.1:8080") as client:
    flow_id = client.start_flow(["receipt"], {"quantity": 3, "unit_price": 2.5})
    state = client.wait_flow(flow_id, timeout=10)
```

``AsyncClient`` is the asyncio twin, and ``stream`` follows events over the WebSocket.
"""

from argyll.client.client import AsyncClient, Client, EventStream
from argyll.client.protocol import EngineInfo, ServiceHealth
from argyll.model import flow_state_from_dict

__all__ = [
    "AsyncClient",
    "Client",
    "EngineInfo",
    "EventStream",
    "ServiceHealth",
    "flow_state_from_dict",
]
