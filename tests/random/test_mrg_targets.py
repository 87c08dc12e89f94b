"""The MRG kernel is lowered for the machine of its lowering context (issue 10): no global
flag, so cuda and llvm builds of it in one process (one after the other or in two threads
at once) never see each other's variant."""
import threading

import numpy as np

import tvmsym as theano
import tvmsym.tensor as T
from tvmsym.lowering import machine
from tvmsym.lowering.lower import infer_shapes, lower_step, plan
from tvmsym.lowering.rules import mrg as mrg_rules
from tvmsym.sandbox.rng_mrg import MRG_RandomStreams
from tvmsym.schedules.common import ScheduleContext
from tvmsym.schedules.mrg import mrg_cpu_rule, mrg_cuda_rule
from tvmsym.symbolic.fgraph import FunctionGraph
from tvmsym.symbolic.ops.mrg import MRGUniform, mrg_uniform


def _mrg_step(n=40, streams=8):
    st = T.imatrix("st")
    new, u = mrg_uniform(st, (n,), "float32")
    pl = plan(FunctionGraph([st], [new, u]))
    shapes = infer_shapes(pl, [(streams, 6)])
    return [s for s in pl.steps if isinstance(s.node.op, MRGUniform)][0], shapes


def _lowered(step, shapes, m):
    from tvmsym import _tvm
    placeholders, results = lower_step(step, shapes, None, m)
    return _tvm.te.create_prim_func(placeholders + results)


def _bound(func):
    return "blockIdx.x" in func.script()


def test_no_module_state_and_the_machine_decides():
    assert not hasattr(mrg_rules, "GPU")
    step, shapes = _mrg_step()
    assert _bound(_lowered(step, shapes, machine.GPU))
    cpu = _lowered(step, shapes, machine.host())
    assert not _bound(cpu) and "parallel" in cpu.script()


def test_cuda_rule_keeps_a_gpu_kernel_and_relowers_a_cpu_one():
    step, shapes = _mrg_step()
    gpu = _lowered(step, shapes, machine.GPU)
    ctx = ScheduleContext(step=step, machine=machine.GPU)
    kept = mrg_cuda_rule(gpu, ctx)
    assert kept.attrs["tvmsym.prebound"] and kept.script().count("blockIdx.x") == \
        gpu.script().count("blockIdx.x")
    cpu = _lowered(step, shapes, machine.host())
    again = mrg_cuda_rule(cpu, ScheduleContext(step=step, machine=machine.host()))
    assert _bound(again) and again.attrs["tvmsym.prebound"]
    # the CPU rule keeps the CPU kernel as built, unbound
    assert mrg_cpu_rule(cpu, ScheduleContext(step=step)) is cpu and not _bound(cpu)


def test_cuda_and_llvm_lowerings_in_two_threads_do_not_leak():
    step, shapes = _mrg_step()
    errors, stop = [], threading.Event()

    def cuda_side():
        try:
            while not stop.is_set():
                cpu = _lowered(step, shapes, machine.host())
                if not _bound(mrg_cuda_rule(cpu, ScheduleContext(step=step,
                                                                 machine=machine.host()))):
                    errors.append("cuda rule gave an unbound kernel")
        except Exception as e:      # pragma: no cover - reported below
            errors.append(repr(e))

    t = threading.Thread(target=cuda_side)
    t.start()
    try:
        for _ in range(15):
            if _bound(_lowered(step, shapes, machine.host())):
                errors.append("a host lowering got the GPU variant")
    finally:
        stop.set()
        t.join()
    assert not errors, errors


def test_cuda_then_llvm_functions_in_one_process():
    srng = MRG_RandomStreams(seed=5)
    u = srng.uniform((9, 11), dtype="float32")
    st0 = u.rstate.get_value()
    _, exp = MRGUniform("float32", 2).perform(None, [st0, np.array([9, 11])])
    g = theano.function([], u * 2, target="cuda", no_default_updates=True)
    src = g.as_text("cuda", shapes=[st0.shape])
    assert "threadIdx.x" in src and "2147462579" in src    # the MRG kernel, bound to threads
    f = theano.function([], u * 2, no_default_updates=True)
    np.testing.assert_array_equal(f(), exp * 2)
    tir = f.as_text("tir")
    assert "2147462579" in tir and "blockIdx" not in tir and "threadIdx" not in tir
    h = theano.function([], u * 2, target="cuda", no_default_updates=True)
    h.loopback = True               # device kernels on the CPU: lowered for the host
    np.testing.assert_array_equal(h(), exp * 2)
    np.testing.assert_array_equal(f(), exp * 2)
