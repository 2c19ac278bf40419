#!/usr/bin/env python3
"""make bench-scale: GET and conditional PUT latency with 1k and with 1M
keys (100-byte values) in the store, and the workers' memory after."""
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import run as bench  # noqa: E402
import harness  # noqa: E402


def memory(pids):
    out = []
    for p in pids:
        f = {}
        with open(f"/proc/{p}/status") as fh:
            for line in fh:
                k, _, v = line.partition(":")
                f[k] = v.strip()
        out.append((f.get("VmRSS"), f.get("RssAnon"), f.get("RssFile")))
    return out


def measure(nkeys):
    harness.BUILD = bench.BUILD
    srv = harness.Server(workers=os.cpu_count(), threads=16,
                         conf="map_size 4G")
    try:
        subprocess.run([os.path.join(bench.BUILD, "bench", "load"), srv.data,
                        str(nkeys)], check=True, capture_output=True)
        srv.start()
        base = f"http://127.0.0.1:{srv.port}"
        # warm-up, not reported: the workers fault the map's pages in
        bench.wrk(base, 32, "scale_get.lua", args=[str(nkeys // 2)])
        get = bench.wrk(base, 32, "scale_get.lua", args=[str(nkeys // 2)])
        put = bench.wrk(base, 32, "cas.lua", args=["scale"])
        mem = memory(srv.worker_pids())
        size = os.path.getsize(os.path.join(srv.data, "data.mdb"))
        return get, put, mem, size
    finally:
        srv.stop()


def main():
    res = {}
    for n in (1000, 1000000):
        print(f"  {n} keys ...", flush=True)
        res[n] = measure(n)
    print()
    print(f"Machine: {os.cpu_count()} cores, {bench.cpu_name()}; "
          f"{bench.SECS} s per run, wrk -t2 -c32")
    print()
    print("| keys | GET req/s | GET p50 ms | GET p99 ms | cond. PUT req/s "
          "| PUT p50 ms | PUT p99 ms | data.mdb |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for n, (g, p, _, size) in res.items():
        print(f"| {n:,} | {g['rps']:,.0f} | {g['p50']:.2f} | {g['p99']:.2f} "
              f"| {p['rps']:,.0f} | {p['p50']:.2f} | {p['p99']:.2f} "
              f"| {size / 2**20:,.0f} MiB |")
    g1, g2 = res[1000][0], res[1000000][0]
    print()
    print(f"GET p99 at 1M keys / at 1k keys: {g2['p99'] / g1['p99']:.2f}x "
          f"(target <= 1.5x)")
    for rss, anon, fil in res[1000000][2]:
        print(f"worker after the 1M run: VmRSS {rss} = RssAnon {anon} "
              f"(its own memory) + RssFile {fil} (LMDB's map, shared page cache)")


if __name__ == "__main__":
    main()
