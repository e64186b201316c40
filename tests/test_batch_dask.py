"""`compute_esvs` on Dask: a local cluster (`--workers`), an existing cluster (`--scheduler`), a worker killed mid-run,
and an unreachable scheduler. Results must equal a single-process run's, bit for bit."""
import logging, os, signal, socket, subprocess, threading, time

import pytest

from batch_inputs import assert_same_results, compute_esvs_command, make_inputs
from play_fair.batch import compute_esvs

distributed = pytest.importorskip('dask.distributed')

@pytest.fixture(scope='module')
def inputs(tmp_path_factory):
    root = tmp_path_factory.mktemp('dask')
    inp = make_inputs(root/'inputs', n_videos=48, lengths=(2, 9), nan_videos=(5,))
    reference = root/'single.h5'
    compute_esvs(inp['spec'], inp['priors'], reference, 4, chunk_size=4, device='cpu', quiet=True)
    return inp, root, reference


@pytest.fixture(scope='module')
def cluster():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host='127.0.0.1',
                                  dashboard_address=None, silence_logs=logging.ERROR) as c:
        yield c


def test_local_cluster_equals_single_process(inputs):
    inp, root, reference = inputs
    s = compute_esvs(inp['spec'], inp['priors'], root/'workers.h5', 4, chunk_size=4, device='cpu', workers=2, quiet=True)
    assert s['status'] == 'complete'
    assert_same_results(root/'workers.h5', reference)


def test_existing_scheduler_equals_single_process(inputs, cluster):
    inp, root, reference = inputs
    compute_esvs(inp['spec'], inp['priors'], root/'scheduler.h5', 4, chunk_size=4, device='cpu',
                 scheduler=cluster.scheduler_address, quiet=True)
    assert_same_results(root/'scheduler.h5', reference)


def test_variable_length_on_cluster(inputs, cluster):
    inp, root, _ = inputs
    compute_esvs(inp['spec'], inp['priors'], root/'all-1.h5', -1, chunk_size=3, device='cpu', quiet=True)
    compute_esvs(inp['spec'], inp['priors'], root/'all-2.h5', -1, chunk_size=3, device='cpu',
                 scheduler=cluster.scheduler_address, quiet=True)
    assert_same_results(root/'all-2.h5', root/'all-1.h5')


def test_worker_killed_mid_run(inputs, cluster):
    "A worker dies while the run goes on: its chunks are recomputed, the results are unchanged."
    inp, root, reference = inputs
    out = root/'killed-worker.h5'
    parts = out.with_name(out.name + '.parts')
    from dask.distributed import Client
    with Client(cluster.scheduler_address) as client:
        pids = list(client.run(os.getpid).values())
    done, killed = threading.Event(), []
    def kill_when_started():
        while not done.is_set() and len(list(parts.glob('chunk-*.h5'))) < 2: time.sleep(0.001)
        if not done.is_set():
            os.kill(pids[0], signal.SIGKILL)
            killed.append(len(list(parts.glob('chunk-*.h5'))))
    killer = threading.Thread(target=kill_when_started)
    killer.start()
    try: compute_esvs(inp['spec'], inp['priors'], out, 4, chunk_size=1, device='cpu', scheduler=cluster.scheduler_address, quiet=True)
    finally:
        done.set()
        killer.join()
    assert killed, 'the run finished before a worker could be killed'
    # chunk size 1 differs from the reference run's: compare with a single-process run of chunk size 1
    compute_esvs(inp['spec'], inp['priors'], root/'chunk1.h5', 4, chunk_size=1, device='cpu', quiet=True)
    assert_same_results(out, root/'chunk1.h5')


def test_unreachable_scheduler_is_one_sentence(inputs, tmp_path):
    inp, root, _ = inputs
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    p = subprocess.run(compute_esvs_command(inp['spec'], inp['priors'], tmp_path/'x.h5', '--scheduler', f'tcp://127.0.0.1:{port}', '--connect-timeout', 2),
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 1
    assert p.stderr.startswith('error: Cannot reach the Dask scheduler') and p.stderr.count('\n') == 1, p.stderr
    assert not (tmp_path/'x.h5').exists()
