import asyncio
import json
import websockets
async def main():
    async with websockets.connect("ws://localhost:29123/notification") as ws:
        async for frame in ws:
            event = json.loads(frame)
            if event["Type"] == 1:
                p = event["Data"]
                print(f"[progress] {p['Path']} {p['Bytes']}/{p['Size']}")
            elif event["Type"] == 2:
                print(f"[user] {event['Data']}")
            elif event["Type"] == 4:
                print(f"[app] {event['Data']['HttpMethod']} {event['Data']['EndpointAddress']}")
            elif event["Type"] == 8:
                print(f"[update] {event['Data']}")
asyncio.run(main())
