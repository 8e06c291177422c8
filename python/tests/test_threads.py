"""Models are independent: two at once from two threads give what each gives
alone; one model shared by threads serialises its calls; long calls release
the GIL; the progress callback stops a dream; Ctrl-C becomes KeyboardInterrupt."""
import os
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

import sonodream
from conftest import EXAMPLES, MODEL

SHORT = dict(iterations=2, octaves=1)


def run_together(*jobs):
    """Run the jobs in threads released at once; their results in order."""
    barrier = threading.Barrier(len(jobs))
    results = [None] * len(jobs)
    errors = []

    def worker(i, job):
        try:
            barrier.wait()
            results[i] = job()
        except BaseException as e:  # re-raised below, in the test's thread
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(i, job)) for i, job in enumerate(jobs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return results


def test_two_models_from_two_threads_at_once(stereo_wav):
    dog, dog_rate = sonodream.read_audio(EXAMPLES[0])
    stereo, stereo_rate = sonodream.read_audio(stereo_wav)
    a, b = sonodream.load_model(MODEL), sonodream.load_model(MODEL)
    alone_a = a.dream(dog, dog_rate, layer="conv4", seed=2, **SHORT)[0]
    alone_b = b.dream(stereo, stereo_rate, cls="siren", seed=5, **SHORT)[0]
    probs_a, probs_b = a.probabilities(stereo, stereo_rate), b.probabilities(dog, dog_rate)

    def job_a():
        return a.dream(dog, dog_rate, layer="conv4", seed=2, **SHORT)[0], a.probabilities(stereo, stereo_rate)

    def job_b():
        return b.dream(stereo, stereo_rate, cls="siren", seed=5, **SHORT)[0], b.probabilities(dog, dog_rate)

    for _ in range(2):
        (dream_a, p_a), (dream_b, p_b) = run_together(job_a, job_b)
        assert np.array_equal(dream_a, alone_a) and np.array_equal(dream_b, alone_b)
        assert np.array_equal(p_a, probs_a) and np.array_equal(p_b, probs_b)


def test_one_model_shared_by_threads(model):
    clips = [sonodream.read_audio(path) for path in EXAMPLES]
    alone = [model.probabilities(a, r) for a, r in clips]
    together = run_together(*[lambda a=a, r=r: [model.probabilities(a, r) for _ in range(5)] for a, r in clips])
    for expected, got in zip(alone, together):
        assert all(np.array_equal(expected, p) for p in got)


def test_long_calls_release_the_gil(model, dog):
    audio, rate = dog
    long_audio = np.tile(audio, 8)  # 32 s: 15 windows
    finished = threading.Event()
    inside = []

    def work():
        model.dream(long_audio, rate, layer="conv2", **SHORT)
        finished.set()

    worker = threading.Thread(target=work)
    worker.start()
    count = 0
    while not finished.is_set():
        count += 1
    worker.join()
    # Had the dream held the GIL, this thread would have stood still for the
    # whole call (the switch interval cannot preempt C code).
    assert count > 100000, count


def test_progress_runs_in_the_calling_thread_and_can_stop(model, dog):
    audio, rate = dog
    threads, steps = set(), []

    def stop_at_3(step, total, objective):
        threads.add(threading.get_ident())
        steps.append(step)
        return step >= 3

    with pytest.raises(sonodream.Interrupted) as e:
        model.dream(audio, rate, iterations=5, octaves=2, progress=stop_at_3)
    assert e.value.status == "interrupted" and str(e.value)
    assert steps == [1, 2, 3] and threads == {threading.get_ident()}

    class Boom(Exception):
        pass

    def boom(step, total, objective):
        raise Boom(step)

    with pytest.raises(Boom):
        model.dream(audio, rate, **SHORT, progress=boom)
    # The model is still fine afterwards.
    assert model.classify(audio, rate, top=1)[0][0] == "dog_bark"


CTRL_C = r"""
import os, signal, sys, threading, time
import sonodream
model = sonodream.load_model(sys.argv[1])
audio, rate = sonodream.read_audio(sys.argv[2])
def ctrl_c():
    time.sleep(1.0)
    os.kill(os.getpid(), signal.SIGINT)
threading.Thread(target=ctrl_c, daemon=True).start()
start = time.monotonic()
try:
    model.dream(audio, rate, iterations=1000, octaves=1)
    print("finished")
except KeyboardInterrupt:
    print("KeyboardInterrupt after %.2f s" % (time.monotonic() - start))
    # The model survives the interruption.
    print(model.classify(audio, rate, top=1)[0][0])
"""


def test_ctrl_c_stops_a_dream_with_keyboard_interrupt():
    env = dict(os.environ, OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "2"))
    done = subprocess.run([sys.executable, "-c", CTRL_C, MODEL, EXAMPLES[0]], capture_output=True, text=True,
                          env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.split("\n")
    assert lines[0].startswith("KeyboardInterrupt after"), done.stdout
    # 1000 steps take minutes; the interruption comes within a step or two.
    assert float(lines[0].split()[2]) < 10
    assert lines[1] == "dog_bark"
