const ws = new WebSocket("ws://localhost:29123/notification");
ws.addEventListener("message", (msg) => {
const event = JSON.parse(msg.data);
switch (event.Type) {
case 1:
console.log("progress", event.Data.Path, event.Data.Bytes, "/", event.Data.Size);
break;
case 2:
console.log("user notification", event.Data);
break;
case 4:
console.log("app notification", event.Data.HttpMethod, event.Data.EndpointAddress);
break;
case 8:
console.log("app update progress", event.Data);
break;
}
});
ws.addEventListener("close", (e) => {
console.log("closed", e.code, e.reason);
});
