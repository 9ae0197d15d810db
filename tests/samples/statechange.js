const ws = new WebSocket("ws://localhost:29123/statechange");
ws.addEventListener("message", (msg) => {
const change = JSON.parse(msg.data);
console.log(`[${change.StorageName}] ${change.Path} -> state ${change.State}`);
});
ws.addEventListener("close", (e) => {
console.log("closed", e.code, e.reason);
});
