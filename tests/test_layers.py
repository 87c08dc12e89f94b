"""The package's layers, read from the source (every import, function-level ones included).

Layers, bottom to top (README, "Architecture"):

    config, cache                    flags; the on-disk kernel cache
    symbolic                         types, graphs, ops, gradients, rewrites, printing: no TVM
    _tvm                             the one TVM-version-aware adapter
    lowering                         graph -> TE (rules per op family)
    schedules                        TE PrimFunc -> scheduled PrimFunc (rules per target)
    targets                          llvm / cuda descriptors, build
    runtime                          function(), executor, inner functions, shared variables
    the API                          tvmsym/__init__, tensor, gradient, compile, scan_module, ...

A module imports only modules of its own package or of a layer below it; the test
lists every import that breaks the rule, with its file and line.
"""
import ast
import os
import subprocess
import sys

import tvmsym

ROOT = os.path.dirname(tvmsym.__file__)
RANK = {"config": 0, "_importguard": 0, "cache": 1, "gof": 2, "symbolic": 3, "_tvm": 4, "lowering": 5,
        "schedules": 6, "targets": 7, "runtime": 8}
API = 9             # every other module: the user-facing namespaces
# gof helper (issue 14): theano.gof, the graph core (Variable/Apply/Op/FunctionGraph) under
# symbolic; _config_theano: Theano's flag table that config reads
RANK.update({"gof": 1.5, "_config_theano": -0.5})
# _importguard: an import helper with no tvmsym import of its own (the first compile's all-or-
# nothing import of TVM and the backend, used by the runtime)
RANK.update({"_importguard": -1})
# modules of the TVM adapter itself (the import without the registry listings, the build of
# kernel groups on every core): they and _tvm.py are one layer, read as one package
PART_OF = {"_fastimport": "_tvm", "_parallel_build": "_tvm"}


def _modules():
    for d, _, files in os.walk(ROOT):
        for f in files:
            if f.endswith(".py"):
                path = os.path.join(d, f)
                rel = os.path.relpath(path, os.path.dirname(ROOT))[:-3].replace(os.sep, ".")
                is_pkg = rel.endswith(".__init__")
                yield path, rel[:-9] if is_pkg else rel, is_pkg


def _imports(path, mod, is_pkg):
    """(line, imported module) for every import statement in the file, at any depth."""
    pkg = mod if is_pkg else mod.rsplit(".", 1)[0]
    out = []
    for n in ast.walk(ast.parse(open(path).read(), path)):
        if isinstance(n, ast.Import):
            out += [(n.lineno, a.name) for a in n.names]
        elif isinstance(n, ast.ImportFrom):
            if n.level:
                base = pkg.split(".")[:len(pkg.split(".")) - n.level + 1]
                m = ".".join(base + ([n.module] if n.module else []))
            else:
                m = n.module
            # `from . import x` imports the module x
            out += [(n.lineno, f"{m}.{a.name}") for a in n.names]
    return out


def _layer(mod):
    parts = mod.split(".")
    if parts[0] == "tvm":
        return "tvm", -1
    if parts[0] != "tvmsym":
        return None, None
    name = parts[1] if len(parts) > 1 else ""
    name = PART_OF.get(name, name)
    return name, RANK.get(name, API)


def _edges():
    """(importer package, imported package, file, line, imported module) for every import of
    another tvmsym package (or of tvm)."""
    for path, mod, is_pkg in _modules():
        src, _ = _layer(mod)
        for line, target in _imports(path, mod, is_pkg):
            dst, rank = _layer(target)
            if dst is None or dst == src:
                continue
            yield src, dst, os.path.relpath(path, os.path.dirname(ROOT)), line, target


def test_every_import_goes_down_the_layers():
    bad = []
    for src, dst, path, line, target in _edges():
        src_rank = RANK.get(src, API)
        dst_rank = -1 if dst == "tvm" else RANK.get(dst, API)
        if dst == "tvm" and src_rank >= RANK["_tvm"]:
            continue                            # TVM itself: from the adapter up
        if dst_rank >= src_rank and not (src_rank == API and dst_rank == API):
            bad.append(f"{path}:{line}: {src} imports {target} (layer {dst})")
        elif dst == "tvm":
            bad.append(f"{path}:{line}: {src} imports TVM")
    assert not bad, "imports against the layers:\n" + "\n".join(bad)


def test_symbolic_imports_nothing_above_it():
    """The strongest rule, said on its own: symbolic/ reads only config, the graph core
    (gof) and itself."""
    bad = [f"{path}:{line}: {target}" for src, dst, path, line, target in _edges()
           if src == "symbolic" and dst not in ("config", "gof")]
    assert not bad, bad


def test_no_import_cycles_between_layers():
    graph = {}
    for src, dst, path, _line, target in _edges():
        if RANK.get(src, API) == API or dst == "tvm":
            continue
        graph.setdefault(src, set()).add(dst)
    state = {}

    def visit(n, stack):
        state[n] = "open"
        for m in graph.get(n, ()):
            if state.get(m) == "open":
                raise AssertionError(f"import cycle between layers: {' -> '.join(stack + [n, m])}")
            if m not in state:
                visit(m, stack + [n])
        state[n] = "done"

    for n in list(graph):
        if n not in state:
            visit(n, [])


def test_import_symbolic_does_not_import_tvm():
    code = ("import sys, tvmsym.symbolic, tvmsym.symbolic.rewrites, tvmsym.symbolic.grad_rules; "
            "import tvmsym, tvmsym.tensor as T; x = T.matrix(); tvmsym.grad(T.sum(x * x), x); "
            "print(sorted(m for m in sys.modules if m == 'tvm' or m.startswith('tvm.')))")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "[]"
