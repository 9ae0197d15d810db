import asyncio
import json
import websockets
async def main():
    async with websockets.connect("ws://localhost:29123/statechange") as ws:
        async for frame in ws:
            change = json.loads(frame)
            print(f"[{change['StorageName']}] {change['Path']} -> state {change['State']}")
asyncio.run(main())
