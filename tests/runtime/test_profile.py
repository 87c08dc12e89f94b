"""function(..., profile=True) and the profile flag: f.profile (runtime/profiling.py)."""
import io
import os
import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import tvmsym
import tvmsym.tensor as T
from tvmsym.runtime import profiling
from tvmsym.runtime.profiling import ProfileStats

N_CALLS = 3

_APPLY = re.compile(r"^\s+([\d.]+)%\s+([\d.]+)%\s+([\d.]+)s\s+([\d.e+-]+)s\s+(\d+)\s+(\d+)\s+(.*)$")


@pytest.fixture(autouse=True)
def _no_exit_prints(monkeypatch):
    """Profiles made under the global flag would be printed when pytest exits."""
    monkeypatch.setattr(profiling, "_atexit_print_list", [])


def _summary(f, **kw):
    buf = io.StringIO()
    f.profile.summary(file=buf, **kw)
    return buf.getvalue()


def _section(text, title, underline):
    start = text.index(f"\n{title}\n{underline}\n") + len(title) + len(underline) + 3
    return text[start:text.index("\n\n", start)].splitlines()


def _apply_rows(text):
    rows = {}
    for line in _section(text, "Apply", "------")[1:]:
        m = _APPLY.match(line)
        if m:
            name = m.group(7).split("   (inlined into kernel")[0]
            rows[name] = (float(m.group(3)), int(m.group(5)), int(m.group(6)))
    return rows


@pytest.fixture(scope="module")
def prof_fn():
    """Fused elemwise with broadcast views, a reduction, a matmul, a numpy sort."""
    x, y = T.matrix("x"), T.vector("y")
    outs = [T.exp(x + y) * 2 + x.sum(), T.dot(x, x), T.sort(y)]
    f = tvmsym.function([x, y], outs, profile=True, name="profiled")
    rng = np.random.default_rng(0)
    a = rng.standard_normal((64, 64), dtype=np.float32)
    b = rng.standard_normal(64, dtype=np.float32)
    res = [f(a, b) for _ in range(N_CALLS)]
    res.append(tvmsym.function([x, y], outs)(a, b))      # unprofiled: the same kernels
    return f, a, b, res


def test_profiled_results_are_right(prof_fn):
    f, a, b, res = prof_fn
    for r in res:
        np.testing.assert_allclose(r[0], np.exp(a + b) * 2 + a.sum(), rtol=1e-5, atol=1e-4)
        np.testing.assert_allclose(r[1], a @ a, rtol=1e-4, atol=1e-4)
        np.testing.assert_array_equal(r[2], np.sort(b))
        for o, e in zip(r, res[-1]):
            np.testing.assert_array_equal(o, e)


def test_summary_lists_every_node_with_its_call_count(prof_fn):
    f, *_ = prof_fn
    text = _summary(f)
    assert text.startswith("Function profiling\n==================\n  Message: profiled\n")
    assert f"  Time in {N_CALLS} calls to Function.__call__: " in text
    assert "    Number of builds (input-shape signatures): 1\n" in text
    rows = _apply_rows(text)
    order = f.maker.fgraph.toposort()
    assert sorted(rows) == sorted(str(n) for n in order)
    for k, node in enumerate(order):
        t, calls, nid = rows[str(node)]
        assert (calls, nid) == (N_CALLS, k), node
    # one row per op instance, per class, with the same call counts
    ops = _section(text, "Ops", "---")
    assert ops[0] == "<% time> <sum %> <apply time> <time per call> <type> <#call> <#apply> <Op name>"
    for node in order:
        line = next(ln for ln in ops if ln.endswith("  " + str(node.op)))
        assert line.split()[5:7] == [str(N_CALLS), "1"], line
    classes = _section(text, "Class", "---")
    dot = next(ln for ln in classes if ln.endswith("tvmsym.symbolic.ops.linalg.Dot"))
    assert dot.split()[4:7] == ["K", str(N_CALLS), "1"]
    sort = next(ln for ln in classes if ln.endswith("tvmsym.symbolic.ops.sort.Sort"))
    assert sort.split()[4] == "Py"
    # the two broadcasting views are inlined into the fused kernel: counted, no own time
    dims = next(ln for ln in classes if ln.endswith("tvmsym.symbolic.elemwise.DimShuffle"))
    assert dims.split()[5:7] == [str(2 * N_CALLS), "2"]


def test_times_are_positive_and_nested(prof_fn):
    f, *_ = prof_fn
    p = f.profile
    assert p.fct_callcount == N_CALLS
    kernels = [st.node for st in f._plan.steps]
    assert all(p.apply_time[n] > 0 for n in kernels)
    assert 0 < sum(p.apply_time.values()) <= p.vm_call_time <= p.fct_call_time
    assert p.optimizer_time > 0 and p.linker_time > 0 and p.nb_builds == 1
    assert p.compile_time == p.optimizer_time + p.linker_time
    assert 0 < p.lower_time + p.schedule_time + p.tvm_compile_time <= p.linker_time


def test_sections_sorted_by_time(prof_fn):
    f, *_ = prof_fn
    text = _summary(f)
    times = [r[0] for r in sorted(_apply_rows(text).values(), key=lambda r: -r[0])]
    listed = [float(_APPLY.match(ln).group(3)) for ln in _section(text, "Apply", "------")
              if _APPLY.match(ln)]
    assert listed == times
    top = _summary(f, n_ops_to_print=1, n_apply_to_print=2)
    assert len([ln for ln in _section(top, "Apply", "------") if _APPLY.match(ln)]) == 2
    assert "   ... (remaining 4 Apply instances account for " in top


def test_memory_is_the_bytes_a_call_allocates(prof_fn):
    f, a, b, _ = prof_fn
    p = f.profile
    # outputs: 64x64 float32 (elemwise), 64x64 (dot), 64 (sort); the sum's scalar intermediate
    assert p.call_bytes_last == 2 * a.nbytes + b.nbytes + 4 == p.call_bytes_max
    assert p.call_buffers_last == 4
    dot = next(st.node for st in f._plan.steps if str(st.node.op) == "dot")
    assert p.apply_bytes[dot] == a.nbytes
    text = _summary(f)
    assert f"    Bytes allocated by the last call: {p.call_bytes_last / 1024:.1f}KB (4 buffers)" in text
    assert "        16384B  (64, 64)" in text


def test_default_has_no_profile_and_keeps_the_fast_path():
    x = T.vector("x")
    f = tvmsym.function([x], x * 2)
    assert f.profile is None
    a = np.arange(4, dtype=np.float32)
    f(a)
    assert f._fast_calls                    # the next call takes the fast path
    g = tvmsym.function([x], x * 2, profile=True)
    g(a)
    g(a)
    assert g._fast_dtypes is None and not g._fast_calls and g.profile.fct_callcount == 2


def test_profile_flag_and_explicit_values():
    x = T.vector("x")
    with tvmsym.config.change_flags(profile=True):
        f = tvmsym.function([x], x + 1, name="flagged")
        g = tvmsym.function([x], x + 1, profile=False)
    assert isinstance(f.profile, ProfileStats) and f.profile.message == "flagged"
    assert profiling._atexit_print_list == [f.profile]      # printed at exit
    assert g.profile is None
    h = tvmsym.function([x], x + 1, profile="my message")
    assert h.profile.message == "my message" and profiling._atexit_print_list == [f.profile]
    shared = ProfileStats(atexit_print=False, message="both")
    k1 = tvmsym.function([x], x + 1, profile=shared)
    k2 = tvmsym.function([x], x * 3, profile=shared)
    a = np.ones(3, np.float32)
    k1(a), k2(a), k2(a)
    assert shared.fct_callcount == 3
    with pytest.raises(TypeError, match="profile must be True, False, None"):
        tvmsym.function([x], x + 1, profile=3)


def test_shared_variable_updates():
    state = tvmsym.shared(np.zeros(5, np.float32), name="state")
    inc = T.vector("inc")
    f = tvmsym.function([inc], state * 2, updates=[(state, state + inc)], profile=True)
    a = np.arange(5, dtype=np.float32)
    outs = [f(a) for _ in range(4)]
    for k, o in enumerate(outs):
        np.testing.assert_array_equal(o, 2 * k * a)
    np.testing.assert_array_equal(state.get_value(), 4 * a)
    rows = _apply_rows(_summary(f))
    assert {str(n): 4 for n in f.maker.fgraph.toposort()} == {k: v[1] for k, v in rows.items()}


def test_outputs_empty_list():
    w = tvmsym.shared(np.ones(3), name="w")
    g = T.dvector("g")
    step = tvmsym.function([g], [], updates=[(w, w - 0.5 * g)], profile=True)
    assert step(np.ones(3)) == [] and step(np.ones(3)) == []
    np.testing.assert_array_equal(w.get_value(), np.zeros(3))
    text = _summary(step)
    assert "  Time in 2 calls to Function.__call__: " in text
    (node,) = step.maker.fgraph.toposort()
    assert _apply_rows(text)[str(node)][1] == 2


def test_never_called():
    x = T.vector("x")
    f = tvmsym.function([x], x + 1, profile=True, name="idle")
    text = _summary(f)
    assert "  Time in 0 calls to Function.__call__: 0.000000e+00s\n" in text
    assert "No kernel time accumulated (the function was never called)" in text
    assert "\nApply\n" not in text
    g = tvmsym.function([x], x, profile=True)
    np.testing.assert_array_equal(g(np.ones(2, np.float32)), np.ones(2))
    assert "  Time in 1 calls to Function.__call__: " in _summary(g)
    assert "No kernel time accumulated (the function runs no kernel" in _summary(g)


def test_library_ops_under_profile():
    """Index checks, value-dependent shapes, data-dependent (boolean mask) steps and two
    shape signatures: profiled results equal the unprofiled function's."""
    x, i = T.matrix("x"), T.lscalar("i")
    outs = [x[i:i + 2].sum(axis=0), x.reshape((i, -1)).max(axis=1), x[x > 0.5] * 2,
            T.nnet.softmax(x), T.argmax(x, axis=1), x[T.arange(2), i]]
    f = tvmsym.function([x, i], outs, profile=True)
    g = tvmsym.function([x, i], outs)
    rng = np.random.default_rng(1)
    calls = 0
    for shape, iv in [((4, 6), 2), ((4, 6), 1), ((6, 4), 3)]:
        a = rng.random(shape, dtype=np.float32)
        for r, e in zip(f(a, iv), g(a, iv)):
            np.testing.assert_allclose(r, e, rtol=1e-6)
        calls += 1
    bad = rng.random((4, 6), dtype=np.float32)
    for iv in (9, 8):       # 9: no (9, -1) reshape of 24 elements; 8: column 8 of 6 (index check)
        with pytest.raises((IndexError, ValueError)) as unprofiled:
            g(bad, iv)
        with pytest.raises(unprofiled.type, match=re.escape(str(unprofiled.value))):
            f(bad, iv)
    p = f.profile
    assert p.fct_callcount == calls
    assert p.nb_builds == 4      # the three signatures, and i=8 (built, then its check raised)
    assert max(p.apply_callcount.values()) == calls
    assert 0 < sum(p.apply_time.values()) <= p.vm_call_time <= p.fct_call_time
    assert "Py" in set(p.apply_impl.values()) and "K " in set(p.apply_impl.values())


def test_exit_prints_profiles_of_the_flag(tmp_path):
    script = textwrap.dedent("""
        import numpy as np
        import tvmsym, tvmsym.tensor as T
        x = T.vector('x')
        f = tvmsym.function([x], T.exp(x) + 1, name='at_exit_fn')
        f(np.ones(8, dtype='float32'))
        f(np.ones(8, dtype='float32'))
        print('profile' if f.profile is not None else 'none')
    """)
    env = dict(os.environ, TVMSYM_FLAGS=os.environ.get("TVMSYM_FLAGS", "") + ",profile=True")
    p = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True,
                       timeout=120)
    assert p.returncode == 0, p.stderr
    assert p.stdout == "profile\n"
    assert "Function profiling\n==================\n  Message: at_exit_fn\n" in p.stderr
    assert "  Time in 2 calls to Function.__call__: " in p.stderr
    assert "Elemwise{Composite{(exp(i0) + 1.0)}}(x)" in p.stderr


def test_cuda_functions_say_they_are_not_profiled():
    x = T.vector("x")
    with pytest.warns(UserWarning, match=r"profiling times cpu \(llvm\) functions only"):
        f = tvmsym.function([x], x + 1, profile=True, target="cuda")
    assert f.profile.fct_callcount == 0
