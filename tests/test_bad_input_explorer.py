"""Bad input to the explorer's server, with real processes and HTTP requests: a results file that is not one, a port
that is taken and an address beyond this machine are refused before Voila starts, in one sentence; a served page
answers only requests that name it in their Host header (no DNS rebinding), and beyond this machine only with its token."""
import http.client, os, re, signal, socket, subprocess, sys, time
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
ENV = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get('PYTHONPATH', '')]))


def explore(*args):
    "`play-fair-explore ARGS` as a process of this checkout (the console script may be another checkout's)."
    return [sys.executable, '-c', 'from play_fair.serve import main; main()', *map(str, args)]


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def refused(*args):
    "The exit status and the one line a refused command printed."
    p = subprocess.run(explore(*args), env=ENV, capture_output=True, text=True, timeout=120)
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith('error: ') and 'Traceback' not in p.stderr, p.stderr
    return p.returncode, lines[0]


def test_a_file_that_is_not_results_is_refused_before_serving(tmp_path):
    (tmp_path/'notes.h5').write_text('not HDF5')
    status, line = refused(tmp_path/'notes.h5', '--port', free_port())
    assert status == 1 and f"RESULTS {tmp_path/'notes.h5'} cannot be shown" in line and 'pass a file written by collate-esvs' in line, line


def test_a_taken_port_is_refused(tmp_path):
    with socket.socket() as taken:
        taken.bind(('127.0.0.1', 0)); taken.listen()
        port = taken.getsockname()[1]
        status, line = refused('--port', port)
    assert status == 1 and f'port {port} on 127.0.0.1 is not free' in line and 'pass another --port' in line, line


def test_serving_beyond_this_machine_needs_a_flag():
    status, line = refused('--ip', '0.0.0.0', '--port', free_port())
    assert status == 1 and '--ip 0.0.0.0 would serve the explorer' in line and 'pass --allow-remote' in line, line


def get(port, path, host):
    "Status and Location of GET `path` with the Host header `host`."
    c = http.client.HTTPConnection('127.0.0.1', port, timeout=60)
    c.putrequest('GET', path, skip_host=True)
    c.putheader('Host', host)
    c.endheaders()
    r = c.getresponse()
    return r.status, r.getheader('Location')


@pytest.fixture
def served(tmp_path):
    "Start `play-fair-explore ARGS` on a free port; yields the port and a function reading what it printed."
    procs = []
    def start(*args):
        port = free_port()
        out, err = open(tmp_path/'out.txt', 'w'), open(tmp_path/'err.txt', 'w')
        procs.append(subprocess.Popen(explore('--port', port, *args), env=ENV, stdout=out, stderr=err, start_new_session=True))
        deadline = time.time() + 120
        while time.time() < deadline:
            assert procs[-1].poll() is None, (tmp_path/'err.txt').read_text()
            try: socket.create_connection(('127.0.0.1', port), timeout=1).close(); break
            except OSError: time.sleep(0.2)
        else: pytest.fail(f"no server on port {port}:\n{(tmp_path/'err.txt').read_text()}")
        return port, lambda: ((tmp_path/'out.txt').read_text(), (tmp_path/'err.txt').read_text())
    yield start
    for p in procs:
        os.killpg(p.pid, signal.SIGTERM)
        p.wait(60)


def test_a_request_through_another_host_name_is_rejected(served):
    port, printed = served()
    assert f'ESV explorer at http://127.0.0.1:{port}/ ' in printed()[0], printed()
    for host in (f'127.0.0.1:{port}', f'localhost:{port}', f'[::1]:{port}'):
        assert get(port, '/nope', host)[0] != 403, host  # reaches Voila, which redirects or answers
    for host in (f'rebound.example:{port}', 'rebound.example', f'localhost.rebound.example:{port}'):
        assert get(port, '/nope', host)[0] == 403, host
        assert get(port, '/', host)[0] == 403, host


def test_serving_beyond_this_machine_warns_and_asks_for_a_token(served):
    port, printed = served('--ip', '0.0.0.0', '--allow-remote')
    deadline = time.time() + 30
    while 'token=' not in printed()[0] and time.time() < deadline: time.sleep(0.1)
    out, err = printed()
    token = re.search(r'\?token=([\w-]+)', out)[1]
    assert 'warning: serving beyond this machine on 0.0.0.0' in err, err
    status, location = get(port, '/', f'127.0.0.1:{port}')
    assert status in (302, 403) and (status == 403 or 'login' in location), (status, location)
    assert get(port, f'/?token={token}', f'127.0.0.1:{port}')[0] == 200
    assert get(port, f'/?token={token}', f'rebound.example:{port}')[0] == 403
