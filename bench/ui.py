"""Dashboard figures in headless Chromium: first render with a big store, redraws under load.

Run: python -m bench.ui [--steps 200] [--flows 1000] [--rate 50] [--seconds 10]
[--screenshot PATH]
Needs Debian's Chromium at /usr/bin/chromium and the playwright package.

The catalog is ``steps`` script steps in layers of 20, each taking the output of
the step above it and, optionally, of its neighbour; ``flows`` flows run to
completion before the page opens. First render is the time from navigation to
the graph holding every step. Then ``rate`` flows a second start for
``seconds`` while the page is watched: redraws a second (the model's flush
counter shown in the header), the longest main-thread task, frames a second,
and how long the page takes to answer a script call (interactivity).
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import time
from typing import Any

from playwright.async_api import Page, async_playwright

from argyll import Engine
from argyll.testing import script_step
from argyll.ui.serve import free_port, serve_dashboard

WIDTH = 20
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
GRAPH_READY = """(count) => {
  const docs = window.Bokeh ? Bokeh.documents : [];
  const cards = docs.length ? docs[0].get_model_by_name("argyll-cards") : null;
  return cards != null && cards.data.id.length === count;
}"""
WATCH_PAGE = """() => {
  window.argyllBench = {longest: 0, frames: 0};
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      window.argyllBench.longest = Math.max(window.argyllBench.longest, entry.duration);
    }
  }).observe({type: "longtask", buffered: false});
  const tick = () => { window.argyllBench.frames += 1; requestAnimationFrame(tick); };
  requestAnimationFrame(tick);
}"""


def layered_steps(count: int) -> list[dict[str, Any]]:
    """Steps ``s{layer}_{i}``: each needs ``v{layer-1}_{i}``, optionally ``v{layer-1}_{i+1}``."""
    steps = []
    for n in range(count):
        layer, i = divmod(n, WIDTH)
        if layer == 0:
            steps.append(script_step(f"s0_{i}", f"{{:v0_{i} {i}}}", outputs=[f"v0_{i}"]))
            continue
        main, side = f"v{layer - 1}_{i}", f"v{layer - 1}_{(i + 1) % WIDTH}"
        steps.append(
            script_step(
                f"s{layer}_{i}",
                f"{{:v{layer}_{i} (+ {main} 1)}}",
                requires=[main],
                optional={side: "0"},
                outputs=[f"v{layer}_{i}"],
                types={main: "number", side: "number", f"v{layer}_{i}": "number"},
            )
        )
    return steps


def goal(n: int, steps: int) -> str:
    """A goal a few layers deep, so each flow runs about ten steps."""
    layer = min(3, steps // WIDTH - 1)
    return f"s{layer}_{n % WIDTH}"


async def fill_store(engine: Engine, steps: int, flows: int) -> None:
    for definition in layered_steps(steps):
        await engine.register_step(definition)
    started = [await engine.start_flow([goal(n, steps)]) for n in range(flows)]
    await asyncio.gather(*(engine.wait_flow(flow_id, timeout=120) for flow_id in started))


async def updates(page: Page) -> int:
    text = await page.locator(".argyll-header").inner_text()
    match = re.search(r"live · (\d+) updates", text)
    return int(match.group(1)) if match else 0


async def run_load(engine: Engine, steps: int, rate: int, seconds: float) -> list[str]:
    """Start ``rate`` flows a second for ``seconds``, on a fixed schedule."""
    loop = asyncio.get_running_loop()
    begin, started = loop.time(), []
    for n in range(int(rate * seconds)):
        await asyncio.sleep(max(0.0, begin + n / rate - loop.time()))
        started.append(await engine.start_flow([goal(n, steps)]))
    return started


async def probe_latency(page: Page, until: float) -> list[float]:
    """Round trips of a trivial script call while the load runs (ms)."""
    samples = []
    while time.perf_counter() < until:
        start = time.perf_counter()
        await page.evaluate("() => performance.now()")
        samples.append((time.perf_counter() - start) * 1000)
        await asyncio.sleep(0.2)
    return samples


async def measure(args: argparse.Namespace) -> None:
    port = free_port()
    async with Engine("memory://", webhook_base_url=f"http://127.0.0.1:{port}") as engine:
        began = time.perf_counter()
        await fill_store(engine, args.steps, args.flows)
        print(
            f"store   {args.steps} steps, {args.flows} flows in {time.perf_counter() - began:.1f} s"
        )
        server = await serve_dashboard(engine, port=port)
        try:
            async with async_playwright() as playwright:
                browser = await playwright.chromium.launch(
                    executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS
                )
                page = await browser.new_page(viewport={"width": 1600, "height": 1000})
                await first_render(page, server.url, args.steps)
                await under_load(page, engine, args)
                if args.screenshot:
                    await page.screenshot(path=args.screenshot, full_page=True)
                await browser.close()
        finally:
            await server.aclose()


async def first_render(page: Page, url: str, steps: int) -> None:
    start = time.perf_counter()
    await page.goto(url)
    await page.wait_for_function(GRAPH_READY, arg=steps, timeout=60_000)
    await page.locator(".tabulator-row").first.wait_for(timeout=60_000)
    elapsed = time.perf_counter() - start
    verdict = "ok" if elapsed <= 3.0 else "SLOW"
    print(f"render  first render (every step, flow table): {elapsed:.2f} s  (≤ 3 s: {verdict})")


async def under_load(page: Page, engine: Engine, args: argparse.Namespace) -> None:
    await page.evaluate(WATCH_PAGE)
    before, start = await updates(page), time.perf_counter()
    load = asyncio.create_task(run_load(engine, args.steps, args.rate, args.seconds))
    latency = await probe_latency(page, start + args.seconds)
    started = await load
    elapsed = time.perf_counter() - start
    redraws = (await updates(page) - before) / elapsed
    watched = await page.evaluate("() => window.argyllBench")
    await asyncio.gather(*(engine.wait_flow(flow_id, timeout=60) for flow_id in started))
    print(f"load    {len(started)} flows in {elapsed:.1f} s ({len(started) / elapsed:.0f} flows/s)")
    print(f"redraw  {redraws:.1f} redraws/s  (≤ 10: {'ok' if redraws <= 10.5 else 'TOO MANY'})")
    frames, longest = watched["frames"] / elapsed, watched["longest"]
    tasks = f"longest task {longest:.0f} ms" if longest else "no task over 50 ms"
    print(f"page    {frames:.0f} frames/s, {tasks}")
    p95 = sorted(latency)[int(len(latency) * 0.95) - 1]
    print(
        f"answer  script round trip median {statistics.median(latency):.0f} ms, p95 {p95:.0f} ms "
        f"(interactive: {'ok' if p95 < 250 else 'NO'})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--flows", type=int, default=1000)
    parser.add_argument("--rate", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--screenshot", help="save the page after the load to this PNG")
    asyncio.run(measure(parser.parse_args()))


if __name__ == "__main__":
    main()
