"""The ESV explorer as a person sees it: Voila serves the page on 127.0.0.1, headless Chromium (Debian's, driven by
Playwright) changes class, example and number of frames, and the chart must show the ESVs stored in the results file."""
import os, shutil, signal, socket, subprocess, sys, tempfile, time
from pathlib import Path

import numpy as np
import pytest

CHROMIUM = Path('/usr/bin/chromium')
CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
                 '--disable-sync', '--no-first-run', '--disable-quic']
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(),
                                reason="Debian's chromium is not installed at /usr/bin/chromium: run scripts/install_chromium.sh")

# One trace of the page's plotly figure, by name ('esv', 'compare', 'predictions'): its bars and their frame indices.
TRACE_JS = """name => { const gd = [...document.querySelectorAll('.js-plotly-plot')].find(g => g.layout && g.layout.meta === 'esv-explorer');
  const t = gd && gd.data && gd.data.find(t => t.name === name);
  if (!t) return null;
  return {y: Array.from(t.y || []), frames: Array.from(t.customdata || [])}; }"""


def _free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _children(pid):
    "Pids of the processes whose parent is `pid` (Voila's kernels)."
    kids = []
    for stat in Path('/proc').glob('[0-9]*/stat'):
        try: fields = stat.read_text().rsplit(')', 1)[1].split()
        except OSError: continue
        if int(fields[1]) == pid: kids.append(int(stat.parent.name))
    return kids


@pytest.fixture(scope='module')
def server():
    "A demo results file, its videos, and `play-fair-explore` serving them on a free localhost port."
    from play_fair.dashboard import make_demo
    tmp = Path(tempfile.mkdtemp(prefix='pf-browser-'))
    demo = make_demo(tmp/'demo')
    port = _free_port()
    log = open(tmp/'voila.log', 'w')
    cmd = [sys.executable, '-c', 'from play_fair.serve import main; main()', str(demo['results_path']),
           str(demo['videos_dir']), '--compare', str(demo['compare_path']), '--data-root', str(demo['data_root']),
           '--port', str(port)]
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    voila = []
    try:
        deadline = time.time() + 90
        while time.time() < deadline:
            assert proc.poll() is None, f"play-fair-explore exited early:\n{(tmp/'voila.log').read_text()}"
            try:
                socket.create_connection(('127.0.0.1', port), timeout=1).close()
                break
            except OSError: time.sleep(0.5)
        else: pytest.fail(f"Voila did not listen on port {port} within 90 s:\n{(tmp/'voila.log').read_text()}")
        voila = _children(proc.pid)
        yield dict(url=f'http://127.0.0.1:{port}/', demo=demo, tmp=tmp)
    finally:
        kernels = [k for v in voila for k in _children(v)]
        proc.terminate()  # play-fair-explore stops Voila, which stops its kernels, and removes its page
        try: proc.wait(timeout=40)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL); proc.wait()
        for pid in kernels:  # kernels run in sessions of their own; Voila stops them, this makes sure
            try: os.kill(pid, signal.SIGKILL)
            except ProcessLookupError: pass
        log.close()
        shutil.rmtree(tmp/'demo', ignore_errors=True)  # the screenshot and Voila's log stay for a look


def test_explorer_page_shows_the_files_esvs(server):
    "Change class, example and number of frames, hover a frame, click a class: the chart shows the file's ESVs; no page errors."
    from playwright.sync_api import sync_playwright
    from play_fair.results import CollatedResults
    res = CollatedResults(server['demo']['results_path'])
    url, errors = server['url'], []

    def wait_for_esvs(n, uid, cls, side='esv', results=res, timeout=60):
        want = results.video(n, uid).esvs[:, cls]
        deadline, got = time.time() + timeout, None
        while time.time() < deadline:
            got = page.evaluate(TRACE_JS, side)
            if got and len(got['y']) == len(want) and np.allclose(got['y'], want, atol=1e-9): return got
            page.wait_for_timeout(250)
        pytest.fail(f"The {side} chart shows {got} but the file holds ESVs {want.tolist()} for video {uid}, n={n}, class {cls}.")

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={'width': 1280, 'height': 1700})
            page.on('pageerror', lambda e: errors.append(str(e)))
            # Only this machine's server is reached: the template's font CDN link and anything else outside is refused.
            page.route('**/*', lambda route: route.continue_() if route.request.url.startswith(url) else route.abort())
            page.goto(url, wait_until='domcontentloaded', timeout=120_000)
            page.wait_for_selector('.pf-charts.js-plotly-plot', timeout=180_000)

            first = wait_for_esvs(8, '1', 0)
            assert first['frames'] == res.video(8, '1').frame_idx.tolist()

            page.select_option('.pf-class select', label='Moving [something] up (2)')
            wait_for_esvs(8, '3', 2)

            page.focus('.pf-example .noUi-handle')
            page.keyboard.press('ArrowRight')
            wait_for_esvs(8, '15', 2)
            page.wait_for_function("() => document.querySelector('.pf-summary').innerText.includes('video 15,')", timeout=30_000)

            page.focus('.pf-n .noUi-handle')
            page.keyboard.press('ArrowLeft')
            got = wait_for_esvs(7, '15', 2)
            assert got['frames'] == res.video(7, '15').frame_idx.tolist()
            wait_for_esvs(7, '15', 2, 'compare', CollatedResults(server['demo']['compare_path']))

            def bar_centre(subplot, k):  # the k-th bar of a subplot ('xy': ESVs, 'x3y3': predictions), on the screen
                box = page.locator(f'.pf-charts .subplot.{subplot} .barlayer .point').nth(k).bounding_box()
                return box['x'] + box['width'] / 2, box['y'] + box['height'] / 2
            page.mouse.move(*bar_centre('xy', 0))  # hovering over the first frame's bar shows that frame large
            i = res.video(7, '15').frame_idx[0]
            page.wait_for_function(f"() => document.querySelector('.pf-frame-caption').innerText.includes('frame 1 of 7: video frame {i} of')",
                                   timeout=30_000)
            k = page.evaluate(TRACE_JS, 'predictions')['frames'].index(3)  # customdata of the predictions: class ids
            page.mouse.click(*bar_centre('x3y3', k))  # clicking "Moving [something] down" shows its ESVs
            wait_for_esvs(7, '15', 3)

            shot = server['tmp']/'explorer.png'
            page.wait_for_timeout(1000)
            page.screenshot(path=str(shot), full_page=True)
            print(f"screenshot of the explorer page: {shot}")
        finally:
            browser.close()
    assert not errors, f"The page raised JavaScript errors: {errors}"


# The pair heatmap beside the ESV bars (the trace 'pairs' of the explorer's figure): its cells, its title, and where
# cell (x, y) lies on the screen.
PAIRS_JS = """() => { const gd = [...document.querySelectorAll('.js-plotly-plot')].find(g => g.layout && g.layout.meta === 'esv-explorer');
  const t = gd && gd.data && gd.data.find(t => t.name === 'pairs');
  if (!t || !t.z || !t.z.length) return null;
  return {z: Array.from(t.z).map(r => Array.from(r).map(v => v === null ? null : Number(v))),
          title: gd.layout.annotations[gd.layout.annotations.length - 1].text}; }"""
CELL_JS = """([x, y]) => { const gd = [...document.querySelectorAll('.js-plotly-plot')].find(g => g.layout && g.layout.meta === 'esv-explorer');
  const t = gd._fullData.find(t => t.name === 'pairs');
  const xa = gd._fullLayout['xaxis' + t.xaxis.slice(1)], ya = gd._fullLayout['yaxis' + t.yaxis.slice(1)], box = gd.getBoundingClientRect();
  return [box.left + xa._offset + xa.l2p(x), box.top + ya._offset + ya.l2p(y)]; }"""


def test_pair_heatmap_shows_the_files_interactions(server):
    "The heatmap holds the file's pair terms for the explained class; hovering names both frames; a click shows both large."
    from playwright.sync_api import sync_playwright
    from play_fair.results import CollatedResults
    vr = CollatedResults(server['demo']['results_path']).video(8, '1')
    want = vr.pair_terms(0)
    url, errors = server['url'], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={'width': 1600, 'height': 1700})  # the heatmap widens the charts
            page.on('pageerror', lambda e: errors.append(str(e)))
            page.route('**/*', lambda route: route.continue_() if route.request.url.startswith(url) else route.abort())
            page.goto(url, wait_until='domcontentloaded', timeout=120_000)
            page.wait_for_selector('.pf-charts.js-plotly-plot', timeout=180_000)
            deadline, got = time.time() + 60, None
            while time.time() < deadline:
                got = page.evaluate(PAIRS_JS)
                if got and len(got['z']) == len(want): break
                page.wait_for_timeout(250)
            assert got and len(got['z']) == len(want), f"The pair heatmap shows {got}, not the file's {len(want)}×{len(want)} pair terms."
            z = np.array([[np.nan if v is None else v for v in row] for row in got['z']])
            off = ~np.eye(len(want), dtype=bool)
            assert np.allclose(z[off], want[off], atol=1e-9) and np.isnan(np.diag(z)).all(), (z, want)
            assert got['title'] == 'SII interactions<br>for “Moving [something] from left to right”', got['title']

            strongest = np.unravel_index(np.argmax(np.abs(want)), want.shape)
            i, j = next((a, b) for a in range(len(want)) for b in range(len(want)) if a != b and {a, b} != set(map(int, strongest)))
            page.locator('.pf-charts').scroll_into_view_if_needed()
            xy = page.evaluate(CELL_JS, [j + 1, i + 1])  # column j, row i: frames i+1 and j+1
            page.mouse.move(*xy)
            page.wait_for_function(f"() => [...document.querySelectorAll('.pf-charts .hoverlayer .hovertext')].some(t => "
                                   f"t.textContent.includes('frames {j + 1} and {i + 1} of 8'))", timeout=30_000)
            page.mouse.click(*xy)
            a, b = vr.frame_idx[i], vr.frame_idx[j]
            page.wait_for_function(f"() => document.querySelector('.pf-pair-caption').innerText.includes("
                                   f"'frames {i + 1} and {j + 1} of 8: video frames {a} and {b}')", timeout=30_000)
            caption = page.inner_text('.pf-pair-caption')
            assert f"{want[i, j]:+.4f}" in caption, caption
            sizes = page.evaluate("() => [...document.querySelectorAll('.pf-pair-frame')].map(im => [im.naturalWidth, im.naturalHeight])")
            assert len(sizes) == 2 and all(w > 0 and h > 0 for w, h in sizes), f"both frames are shown large: {sizes}"
            shot = server['tmp']/'explorer-pairs.png'
            page.screenshot(path=str(shot), full_page=True)
            print(f"screenshot of the pair heatmap: {shot}")
        finally:
            browser.close()
    assert not errors, f"The page raised JavaScript errors: {errors}"
