from __future__ import annotations
import asyncio, gzip, json
from pathlib import Path
import httpx
from tests.support import client_for, SHARED

async def test_smoke(app_factory) -> None:
    app = await app_factory(job_poll_seconds=0.2)
    bundle = json.loads(gzip.decompress((SHARED / "data/synthea-2019/Clemente_Kreiger_1484a42d-0eaf-4654-9cbf-6b050a5cd73b.json.gz").read_bytes()))
    async with client_for(app) as http:
        r = await http.post("/", json=bundle, headers={"Content-Type": "application/fhir+json"})
        print(r.status_code, len(r.json().get("entry", [])))
        r = await http.get("/$export", headers={"Prefer": "respond-async"})
        print(r.status_code, r.headers, r.text)
        url = r.headers["Content-Location"]
        for _ in range(100):
            s = await http.get(url)
            if s.status_code != 202:
                break
            print(s.headers.get("x-progress"))
            await asyncio.sleep(0.1)
        print(s.status_code, s.text[:2000])
        for out in s.json()["output"][:3]:
            f = await http.get(out["url"])
            print(f.status_code, f.headers.get("content-type"), len(f.text.splitlines()), out["count"])
        d = await http.delete(url)
        print(d.status_code)
        print((await http.get(url)).status_code)
        r = await http.get("/metadata")
        cs = r.json()
        print(cs.get("instantiates"), cs["rest"][0]["operation"])
        print([ (res["type"], res.get("operation")) for res in cs["rest"][0]["resource"] if res["type"] in ("Patient","Group")])
