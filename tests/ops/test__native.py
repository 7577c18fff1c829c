"""The compiled kernel: build time, automatic selection and the fallback switch."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from ppverify.ops import _dispatch, _layout, _native, functional

from ._child import BUILD_TIMEOUT, peak_rss_growth, run_child

MARCH_AT_IMPORT = os.environ.get("PPVERIFY_MARCH", "")  # as _native read it

pytestmark = pytest.mark.skipif(not _native.available(),
                                reason=f"no compiled kernel here: {_native.build_error}")


def test_a_cached_build_is_found_and_a_truncated_one_refused(tmp_path):
    # This session's library and its manifest, copied into a fresh cache, are found there by
    # `ppverify kernel` (the prebuild command) without compiling; truncated (issue 16 point 4: a
    # truncated build gave SIGBUS at dlopen before) or replaced by garbage, the manifest check
    # rejects it. The rebuild that follows a rejection, and what it says, is checked on the
    # one-lane build (test_the_one_lane_forms_conform_built_without_openmp: one build of the
    # kernel serves both tests; each takes a minute or more of the suite's two cores); on a
    # machine that does not run that test (not x86-64), here.
    src = _native.library_file
    lib = tmp_path / _native.library_path(tmp_path).name
    lib.write_bytes(src.read_bytes())
    lib.with_suffix(".json").write_text(src.with_suffix(".json").read_text())
    env = {**os.environ, "PPVERIFY_CACHE": str(tmp_path)}
    found = subprocess.run([sys.executable, "-m", "ppverify.cli", "kernel"], env=env,
                           capture_output=True, text=True, timeout=240)
    assert found.returncode == 0, found.stderr[-3000:]
    assert f"kernel: {lib} (found in the cache)" in found.stdout, found.stdout
    assert f"vector code: {_native.vector_isa()};" in found.stdout, found.stdout
    assert "compiling" not in found.stderr, found.stderr
    assert _native.verify(lib) is None
    data = lib.read_bytes()
    lib.write_bytes(data[: len(data) // 2])
    assert _native.verify(lib) == (f"its size ({len(data) // 2} bytes) is not the size it was "
                                   f"built with")
    lib.write_bytes(data[:-4] + bytes(b ^ 0xFF for b in data[-4:]))  # the same size
    assert _native.verify(lib) == ("its SHA-256 does not match the one recorded when it was "
                                   "built")
    lib.write_bytes(data)
    assert _native.verify(lib) is None
    if not _ONE_LANE_BUILD_HERE:
        lib.write_bytes(data[: len(data) // 2])
        _assert_rebuilt(lib, env, _native.vector_isa())


#: whether test_the_one_lane_forms_conform_built_without_openmp runs here (an x86-64 machine
#: with a compiler), and with it the rebuild's checks
_ONE_LANE_BUILD_HERE = (platform.machine().lower() in ("x86_64", "amd64")
                        and _native._compiler() is not None)


def _assert_rebuilt(lib: Path, env: dict, vector_code: str) -> dict:
    """``ppverify kernel --json`` in ``env`` (its cache holds ``lib``, a rejected library)
    rebuilds ``lib``, says so once, announces the compiling on stderr and reports what it
    built: in parts where this machine has several CPUs, with ``vector_code``; its result."""
    proc = subprocess.run([sys.executable, "-m", "ppverify.cli", "kernel", "--json"],
                          env={**os.environ, **env}, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout)
    assert result["available"] and result["compiled_now"], result  # built here, not cached
    assert result["build_seconds"] > 0 and result["file"] == str(lib), result
    assert result["vector_code"] == vector_code and "-O3" in result["flags"], result
    jobs = _native.build_jobs()
    assert result["build_jobs"] == jobs, result
    assert result["parts"] == (len(_native.PARTS) if jobs > 1 else 1), result
    rebuilt = [e for e in result["events"] if "was rebuilt because" in e]
    assert len(rebuilt) == 1 and rebuilt[0].startswith(
        f"ppverify: the cached kernel {lib} was rebuilt because its size ("), rebuilt
    assert "compiling the native kernel" in proc.stderr, proc.stderr
    assert "was compiled in" in proc.stderr, proc.stderr
    assert _native.verify(lib) is None
    assert not list(lib.parent.glob(".ppool_kernel_*tmp*"))  # no temporary file left behind
    return result


def test_the_kernel_command_says_why_the_kernel_is_not_available():
    proc = subprocess.run([sys.executable, "-m", "ppverify.cli", "kernel"],
                          env={**os.environ, "PPVERIFY_NATIVE": "0"}, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 1, proc
    assert "not available: disabled by PPVERIFY_NATIVE=0" in proc.stdout, proc.stdout


def test_fallback_is_chosen_when_disabled():
    result = run_child("""
        import json, torch
        from ppverify.ops import _dispatch, _native, p_pool2d
        x = torch.rand(1, 1, 4, 4)
        y = p_pool2d(x, 2.0, 2)
        print(json.dumps({"native": _native.available(), "used": _dispatch._use_native(x),
                          "finite": bool(torch.isfinite(y).all())}))
    """, {"PPVERIFY_NATIVE": "0"})
    assert result == {"native": False, "used": False, "finite": True}


def test_selection_rules():
    # the kernel serves P-pooling on CPU in every floating dtype and every layout (windowed,
    # adaptive with uneven windows, global); the power mean and the Lp norm too (float64 since
    # 2026-12-05; its hard windows handed back to the pure-torch path: test_power_float64.py)
    assert _dispatch._use_native(torch.rand(1, 1, 2, 2))
    assert _dispatch._use_native(torch.rand(1, 1, 2, 2).half())
    assert _dispatch._use_native(torch.rand(1, 1, 2, 2, dtype=torch.float64))
    windowed, glob = _layout.windowed(2, 2), _layout.adaptive(2, 1)
    x = torch.rand(1, 1, 4, 6)
    for dtype in (torch.float32, torch.float64, torch.bfloat16, torch.float16):
        for layout in (windowed, glob, _layout.adaptive(2, (2, 3)), _layout.adaptive(2, (3, 4))):
            assert _dispatch._backend("ppool", layout, x.to(dtype)) == "native"
    assert _dispatch._backend("ppool", windowed, x.to(torch.int32)) == "torch"
    assert _dispatch._backend("powermean", windowed, x) == "native"
    assert _dispatch._backend("lp", windowed, x) == "native"
    assert _dispatch._backend("powermean", windowed, x.double()) == "native"
    assert _dispatch._backend("lp", windowed, x.double()) == "native"


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16, torch.float16])
@pytest.mark.parametrize("channels_last", [False, True])
def test_kernel_entry_points(dtype, channels_last):
    layout = _layout.windowed(2, 2)
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    x = torch.rand(3, 2, 4, 4).to(dtype).contiguous(memory_format=fmt)
    alpha = torch.full((2,), 2.0, dtype=torch.float64)
    plan = _native.make_plan("ppool", layout, tuple(x.shape), dtype, channels_last, 1, (2, 2))
    y = torch.empty((3, 2, 2, 2), dtype=dtype).contiguous(memory_format=fmt)
    assert _native.forward(plan.ctypes.data, x, alpha, y) is False
    expected = functional.p_pool2d(x.double(), alpha, 2)
    torch.testing.assert_close(y.double(), expected, atol=0, rtol=1e-2)
    gx = torch.empty_like(x)
    dalpha = _native.backward(plan.ctypes.data, x, alpha, torch.ones_like(y), gx, True)
    assert gx.shape == x.shape and dalpha.shape == (2,) and bool(torch.isfinite(gx).all())
    assert _native.backward(plan.ctypes.data, x, alpha, torch.ones_like(y), gx, False) is None
    x[0, 1, 1, 1] = float("nan")
    assert _native.forward(plan.ctypes.data, x, alpha, y) is True
    assert torch.isnan(y[0, 1, 0, 0]) and int(torch.isnan(y).sum()) == 1


def test_kernel_flags_bad_values_and_op_names_them():
    x = torch.rand(1, 1, 4, 4)
    x[0, 0, 1, 1] = -1.0
    with pytest.raises(ValueError, match="negative"):
        functional.p_pool2d(x, 0.5, 2)


def test_an_unwritable_cache_builds_privately_and_says_so(tmp_path):
    cache = tmp_path / "ro"
    cache.mkdir()
    cache.chmod(0o500)
    try:
        if os.access(cache, os.W_OK):
            pytest.skip("running as a user who can write anywhere")
        result = run_child("""
            import json, warnings
            from ppverify.ops import _native
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                ok = _native.available()
            print(json.dumps({"ok": ok, "file": str(_native.library_file),
                              "said": [str(w.message) for w in caught]}))
        """, {"PPVERIFY_CACHE": str(cache)}, timeout=BUILD_TIMEOUT)  # (a private build)
    finally:
        cache.chmod(0o700)
    assert result["ok"] and not result["file"].startswith(str(cache))
    assert any("cannot be used" in m for m in result["said"]), result


def test_a_global_window_of_a_million_elements_in_bounded_memory():
    """Issue 16 point 4: a 1000 x 1000 global window let std::bad_alloc escape the OpenMP region
    (SIGABRT) and a 200 x 200 one took 557 MB per thread. Issue 12: the scratch held whole
    rows x 8 lanes and a row cache of the whole plane (the process grew by 122 MB forward and
    194 MB forward+backward). Now the scratch is bounded by the column tile and the cache
    budget, and a global window (no input row shared by two output rows) gets no row cache:
    measured 2026-12-02 with tests' code (/tmp script, 2 threads), +0.1 MB forward and
    +10.2 MB forward+backward (x.grad itself is 8 MB; adaptive_max_pool2d: +1.0 / +11.4 MB)."""
    result = peak_rss_growth("adaptive_p_pool2d", "2.0, 1", (1, 1, 8, 8), (1, 2, 1000, 1000))
    assert result["finite"]
    assert result["forward_kb"] < 8 * 1024, result  # before: 122 MB
    assert result["grown_kb"] < 24 * 1024, result   # before: 194 MB


def test_the_integer_alpha_window_state_keeps_no_rows():
    """The integer-alpha window state's saving forward (alpha 0-4, large disjoint windows)
    keeps each window's S and y and no dy/dx, so it reads no row twice: no row cache either.
    Before, it kept the rows of a window's span as the dy/dx state's forward does: a global
    window of (8,3,224,224) on channels-last memory grew the peak RSS by 18.7 MB forward (two
    threads' row caches; the input is 4.8 MB), now 0.1 MB; (8,64,112,112) contiguous: 4.8 MB.
    """
    result = run_child("""
        import json, resource, torch
        from ppverify.ops import adaptive_p_pool2d
        torch.set_num_threads(2)
        alpha = torch.tensor(2.0, dtype=torch.float64, requires_grad=True)
        grown = {}
        for name, shape, cl in (("cl3", (8, 3, 224, 224), True),
                                ("contiguous", (8, 64, 112, 112), False)):
            def make(*s):
                x = torch.rand(*s)
                return x.contiguous(memory_format=torch.channels_last) if cl else x
            adaptive_p_pool2d(make(2, shape[1], 32, 32).requires_grad_(), alpha, 1)  # warm
            x = make(*shape).requires_grad_()
            before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            y = adaptive_p_pool2d(x, alpha, 1)
            grown[name] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
        print(json.dumps(grown))
    """)
    assert result["cl3"] < 1024 and result["contiguous"] < 1024, result  # kB


def test_the_build_runs_as_many_compilers_as_it_is_given(monkeypatch):
    """``build_jobs``: ``$PPVERIFY_BUILD_JOBS`` (at most one per part), else this process's
    CPUs; a value that is not a positive integer is refused with the variable named."""
    monkeypatch.setenv("PPVERIFY_BUILD_JOBS", "3")
    assert _native.build_jobs() == 3
    monkeypatch.setenv("PPVERIFY_BUILD_JOBS", " 64 ")
    assert _native.build_jobs() == len(_native.PARTS) == 5
    for bad in ("0", "-2", "two", "1.5"):
        monkeypatch.setenv("PPVERIFY_BUILD_JOBS", bad)
        with pytest.raises(ValueError, match="PPVERIFY_BUILD_JOBS must be a positive integer"):
            _native.build_jobs()
    monkeypatch.delenv("PPVERIFY_BUILD_JOBS")
    assert _native.build_jobs() == min(len(os.sched_getaffinity(0)), 5)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0})
    assert _native.build_jobs() == 1


def test_a_dead_builders_temporary_files_are_removed_and_a_live_ones_kept(tmp_path):
    """Files a build left behind (its process killed: the compiler's output, the parts'
    objects) are removed by the next build; a live builder's are not. The builder's pid is the
    number after the prefix (``.ppool_kernel_<pid>.<thread>.tmp...``): until 2026-12-06 the
    thread's number was read as the pid, and ``os.kill`` of a number that large raised
    OverflowError, so every later build into that cache failed (the pure-torch path ran)."""
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    dead, live, thread = int(done.stdout), os.getpid(), 140519654833024
    names = {f".ppool_kernel_{dead}.{thread}.tmp.so": False,
             f".ppool_kernel_{dead}.{thread}.tmp.so.part3.o": False,
             f".ppool_kernel_{dead}.{thread}.tmp.json": False,
             f".ppool_kernel_{live}.{thread}.tmp.so": True,
             f".ppool_kernel_{thread}.{thread}.tmp.so": True,  # no such pid can be asked
             ".ppool_kernel_x.1.tmp.so": True}
    for name in names:
        (tmp_path / name).write_bytes(b"partial")
    _native._remove_dead_temporaries(tmp_path)
    assert {name: (tmp_path / name).exists() for name in names} == names


def test_the_cpu_flags_fit_the_machine(monkeypatch):
    """The build's CPU flags (``cpu_target_flags``): x86-64 gets -march=native and the AVX-512
    vector width; ARM64 gets -mcpu=native and none of the x86 options (GCC on ARM rejects
    -mprefer-vector-width, so every ARM machine once fell back to the pure-torch path, 40-120x
    slower); ``$PPVERIFY_MARCH`` names another CPU."""
    monkeypatch.delenv("PPVERIFY_MARCH", raising=False)
    assert _native.cpu_target_flags("x86_64") == ["-march=native", "-mprefer-vector-width=512"]
    assert _native.cpu_target_flags("AMD64") == ["-march=native", "-mprefer-vector-width=512"]
    for arm in ("aarch64", "arm64"):
        assert _native.cpu_target_flags(arm) == ["-mcpu=native"]
        assert _native.cpu_target_flags(arm, "armv8.2-a") == ["-march=armv8.2-a"]
    assert _native.cpu_target_flags("riscv64") == []
    assert _native.cpu_target_flags("x86_64", "x86-64") == ["-march=x86-64",
                                                            "-mprefer-vector-width=512"]
    monkeypatch.setenv("PPVERIFY_MARCH", " x86-64-v3 ")
    assert _native.cpu_target_flags("x86_64")[0] == "-march=x86-64-v3"
    assert _native.cpu_target_flags("riscv64") == ["-march=x86-64-v3"]
    # this process's builds: this machine's flags, with the $PPVERIFY_MARCH it was started with
    target = _native.cpu_target_flags(None, MARCH_AT_IMPORT)
    assert _native.FLAGS[2:2 + len(target)] == target, _native.FLAGS


def test_the_kernel_compiles_for_arm64(tmp_path):
    """The kernel compiles for ARM64 with the flags an ARM machine's build uses, where a cross
    compiler is installed (``g++-aarch64-linux-gnu``; else skipped), and takes the vector code
    there (``avx2_neon.inc`` under ``simd8.inc``: PPV_AVX2_ON_NEON and the emulated AVX-512
    forms), not the one-lane forms. Its results: tests/ops/test_simd8.py (the intrinsics, under
    qemu) and ``python -m tests.arm64_check`` (the whole kernel, bit for bit with this
    machine's)."""
    import shutil

    compiler = shutil.which("aarch64-linux-gnu-g++")
    if compiler is None:
        pytest.skip("no aarch64-linux-gnu-g++ (a cross compiler) here")
    from tests.arm64_check import kernel_flags

    # -mcpu=native needs the target CPU itself; a cross build names one
    target = _native.cpu_target_flags("aarch64", "armv8-a")
    flags = ["-O0" if f == "-O3" else f for f in kernel_flags(target)]
    out = tmp_path / "kernel.so"
    proc = subprocess.run([compiler, *flags, "-Wno-psabi", str(_native.SOURCE), "-o",
                           str(out)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    probe = tmp_path / "probe.cpp"
    probe.write_text('#include "simd8.inc"\n'
                     "#if !defined(PPV_AVX2_ON_NEON) || !defined(PPV_AVX512_EMULATED)\n"
                     '#error "ARM64 did not take the NEON vector code"\n'
                     "#endif\n")
    proc = subprocess.run([compiler, "-std=c++17", *target, "-fsyntax-only",
                           f"-I{_native.SOURCE.parent}", str(probe)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]


@pytest.mark.parametrize("mcpu", [None, "neoverse-v1"])
def test_the_arm64_kernel_computes_this_machines_bits(tmp_path, mcpu):
    """The kernel built as an ARM64 machine builds it (-O3; the NEON vector code,
    ``avx2_neon.inc``), for armv8-a and as ``-mcpu=native`` builds it on Graviton 3
    (``neoverse-v1``: SVE, and that core's tuning; GCC 12's SVE code computed zero input
    gradients in 268 runs until the kernel turned SVE off, ``#pragma GCC target("+nosve")``),
    computes this machine's bits: every run of ``tests/arm64_check.py``
    (P-pooling in 4 dtypes, the power mean and Lp in 3, 1-3-D, adaptive and global,
    channels-last, all three entry-point pairs) under qemu-aarch64, statuses, outputs and
    gradients compared bit for bit with this machine's kernel. Where the cross tools are
    installed (``apt install g++-aarch64-linux-gnu qemu-user``); else skipped (CI). With a
    multiply-add of the NEON layer left unfused in half its lanes, 729 of the 1,953 runs
    differed (2026-12-03)."""
    from tests import arm64_check

    if arm64_check.tools() is None:
        pytest.skip("no aarch64-linux-gnu-g++ / qemu-aarch64 here "
                    "(apt install g++-aarch64-linux-gnu qemu-user)")
    kernel, driver = arm64_check.build(tmp_path, quiet=True, mcpu=mcpu)
    prepared = arm64_check.prepare(arm64_check.cases())
    result = arm64_check.compare(prepared, tmp_path, kernel, driver)
    assert "vector code 3" in result["driver"], result["driver"]
    assert result["totals"]["gx"] > 0 and result["totals"]["dp"] > 0
    problems = result["problems"]
    assert not problems, f"{len(problems)} of {len(prepared)} runs differ: " + "; ".join(
        f"{k}: {v}" for k, v in list(problems.items())[:10])


def test_a_compiler_without_a_feature_builds_without_it():
    """``_fewer_flags``: a build that failed for want of OpenMP is retried without -fopenmp, one
    that failed on a CPU option without the CPU options, one that failed on a tuning flag
    (``_TUNING_FLAGS``) without it; anything else is an error."""
    flags = ["-O3", "-march=native", "-mprefer-vector-width=512", "-fopenmp", "-shared"]
    apple = "clang: error: unsupported option '-fopenmp'"
    fewer, what = _native._fewer_flags(flags, apple)
    assert fewer == ["-O3", "-march=native", "-mprefer-vector-width=512", "-shared"]
    assert "OpenMP" in what
    assert _native._fewer_flags(flags, "x.cpp:1:10: fatal error: 'omp.h' file not found")[0] \
        == fewer
    arm = "g++: error: unrecognized command-line option '-mprefer-vector-width=512'"
    fewer2, what2 = _native._fewer_flags(fewer, arm)
    assert fewer2 == ["-O3", "-shared"] and "-march=native" in what2
    assert _native._fewer_flags(fewer2, arm) is None  # nothing left to give up
    assert _native._fewer_flags(flags, "x.cpp:12:3: error: 'foo' was not declared") is None
    # a source line about OpenMP that fails is a real error, not a missing OpenMP
    assert _native._fewer_flags(flags, "k.cpp:9:1: error: invalid OpenMP clause") is None
    cross = "cc1plus: error: unknown value \u2018native\u2019 for \u2018-march\u2019"
    assert _native._fewer_flags(fewer, cross)[0] == ["-O3", "-shared"]
    linker = "ld: error: library not found for -lomp"
    assert _native._fewer_flags(flags, linker)[0] == fewer
    # a flag that only makes GCC's build faster: dropped for a compiler that rejects it (the
    # build went on failing with clang until it was), with nothing to say
    tuned = ["-O3", "-fno-ipa-cp-clone", "-march=native", "-fopenmp", "-shared"]
    clang = "clang: error: unknown argument: '-fno-ipa-cp-clone'"
    assert _native._fewer_flags(tuned, clang) == (["-O3", "-march=native", "-fopenmp",
                                                   "-shared"], None)
    assert _native._fewer_flags(tuned, apple)[0] == ["-O3", "-fno-ipa-cp-clone",
                                                     "-march=native", "-shared"]
    # the same for the layout flag, where a compiler rejects it (GCC and clang take it)
    aligned = ["-O3", "-march=native", "-falign-functions=64", "-fopenmp", "-shared"]
    other = "cc: error: unrecognized command-line option '-falign-functions=64'"
    assert _native._fewer_flags(aligned, other) == (["-O3", "-march=native", "-fopenmp",
                                                     "-shared"], None)
    assert "-falign-functions=64" in _native.FLAGS


def test_the_one_lane_forms_conform_built_without_openmp(tmp_path):
    """The kernel's one-lane forms (the loops behind every ``#if defined(PPV_AVX512)`` /
    ``PPV_FAST_VECTOR``: what x86 CPUs without AVX2 and machines other than x86-64 and ARM64
    run), built with
    ``PPVERIFY_MARCH=x86-64`` by a compiler that has no OpenMP (a wrapper of g++ that rejects
    -fopenmp as Apple's clang does: the build then drops it, says so, and every call runs on
    one thread) and checked against the oracle by ``ppverify check`` (forward and gradients,
    P-pooling 1-3 D, the power mean and Lp). This machine's own build runs the vector code
    with OpenMP, so nothing else here runs these loops or that build. The build replaces a
    truncated library, so it is also the test of the rebuild that follows a rejected one. (One
    build for the three conditions: the kernel takes 1-2 minutes to compile.)"""
    if not _ONE_LANE_BUILD_HERE:
        pytest.skip("needs an x86-64 machine (it builds the one-lane forms with "
                    "-march=x86-64) and a C++ compiler")
    compiler = _native._compiler()
    no_openmp = tmp_path / "clang-like"
    no_openmp.write_text("#!/bin/sh\n"
                         "for a in \"$@\"; do\n"
                         "  if [ \"$a\" = -fopenmp ]; then\n"
                         "    echo \"clang: error: unsupported option '-fopenmp'\" >&2; exit 1\n"
                         "  fi\n"
                         "done\n"
                         f"exec {compiler} \"$@\"\n")
    no_openmp.chmod(0o755)
    cache = tmp_path / "cache"
    env = {"PPVERIFY_MARCH": "x86-64", "PPVERIFY_CACHE": str(cache), "CXX": str(no_openmp)}
    # The build is a rebuild (issue 16 point 4): a truncated library and its manifest are where
    # this build's library goes, as a killed or interrupted copy leaves them; the manifest
    # check rejects them, and `ppverify kernel` (the prebuild command) builds the kernel, says
    # so once and reports what it built.
    where = run_child("""
        import json
        from ppverify.ops import _native
        print(json.dumps({"path": str(_native.library_path())}))
    """, {**env, "PPVERIFY_NATIVE": "0"})
    lib = Path(where["path"])
    assert lib.parent == cache, where
    cache.mkdir(mode=0o700)
    lib.write_bytes(b"\x7fELF" + bytes(4092))
    lib.with_suffix(".json").write_text(json.dumps({"size": 1 << 20, "sha256": "0" * 64}))
    result = _assert_rebuilt(lib, env, "scalar")
    # the rebuild's reason names the truncated file's size; each part's compile, and the
    # link, ran without -fopenmp (the one-unit build: the AVX2 test below), and the build says
    # what it went without
    assert (f"ppverify: the cached kernel {lib} was rebuilt because its size (4096 bytes) is "
            f"not the size it was built with") in result["events"], result
    assert result["openmp"] is False and "-march=x86-64" in result["flags"], result
    assert "-fopenmp" not in result["flags"] and result["built_without"], result
    assert any("without it" in e and "OpenMP" in e for e in result["events"]), result
    _assert_conforms([("p_pool{d}d", "ppool", (1, 2, 3)), ("gem_pool2d", "powermean", 2),
                      ("lp_pool2d", "lp", 2)], env)
    # the checks' workers found the same build (no second one for other flags)
    assert list(cache.glob("ppool_kernel_*.so")) == [lib]


def test_clang_builds_the_kernel_in_parts_and_it_conforms(tmp_path):
    """A build with clang (Apple's compiler, and many Linux machines' ``CXX``), in parts: it
    rejects GCC's -fno-ipa-cp-clone (dropped without a word) and, without libomp, -fopenmp
    (dropped with the warning), and its parts must link: a thread-local variable shared
    between parts did not with clang (an undefined hidden initialisation function), found
    2026-12-06 by this build. Checked against the oracle by ``ppverify check``. Skipped where
    there is no clang++ (``apt install clang``)."""
    import shutil

    clang = shutil.which("clang++")
    if clang is None:
        pytest.skip("no clang++ here (apt install clang)")
    cache = tmp_path / "cache"
    env = {"PPVERIFY_CACHE": str(cache), "CXX": clang, "PPVERIFY_BUILD_JOBS": "2"}
    result = run_child("""
        import json, warnings
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            from ppverify.ops import _native, native_vector_code
            code = native_vector_code()
        print(json.dumps({"code": code, "warnings": [str(w.message) for w in caught]}))
    """, env, timeout=BUILD_TIMEOUT)
    assert result["code"] is not None, result  # the kernel built and loaded
    assert not any("ipa-cp-clone" in w for w in result["warnings"]), result
    [manifest] = cache.glob("ppool_kernel_*.json")
    built = json.loads(manifest.read_text())
    assert built["parts"] == len(_native.PARTS) and "-fno-ipa-cp-clone" not in built["flags"]
    _assert_conforms([("p_pool2d", "ppool", 2), ("gem_pool2d", "powermean", 2)], env)


def _assert_conforms(targets, env: dict) -> None:
    """``ppverify check`` of each (``ppverify.ops`` function, operator, dimension or tuple of
    dimensions, for a function named with ``{d}``) in a process with ``env`` (the build under
    test: its ``PPVERIFY_MARCH`` and cache): each must conform."""
    for target, op, dims in targets:
        dims = dims if isinstance(dims, tuple) else (dims,)
        proc = subprocess.run(
            [sys.executable, "-m", "ppverify", "check", f"ppverify.ops:{target}", "--op", op,
             "--dim", *map(str, dims)], capture_output=True, text=True, timeout=600,
            env={**os.environ, **env})
        assert proc.returncode == 0, (target, proc.stdout[-3000:], proc.stderr[-3000:])
        assert "CONFORMS" in proc.stdout, proc.stdout[-2000:]


def test_the_kernel_builds_and_conforms_for_cpus_without_avx512(tmp_path):
    """The kernel's build for CPUs with AVX2 and FMA but no AVX-512 (``PPVERIFY_MARCH=
    x86-64-v3``: the AVX-512 code emulated by ``simd8.inc``), with the flags such a machine's
    first call uses (-O3), loads, runs the emulated vector code and is checked against the oracle
    by ``ppverify check`` (P-pooling 2-D and 3-D, the power mean). A machine with AVX-512 does
    not build it with -march=native. (A declaration placed inside an AVX-512-only block once
    broke those builds while every test here passed; and until 2026-12-06 this test compiled at
    -O0, which hid an internal compiler error of GCC 12.2 at -O3 for AVX2 targets in
    ``pow_compute_row_int_dd``: on such CPUs the kernel did not build and the pure-torch path
    ran.) The one-lane build (x86-64) is built and run by
    test_the_one_lane_forms_conform_built_without_openmp."""
    if platform.machine().lower() not in ("x86_64", "amd64"):
        pytest.skip("an x86-64 machine builds the AVX2 code with -march=x86-64-v3")
    if _native._compiler() is None:
        pytest.skip("no C++ compiler")
    cache = tmp_path / "cache"
    # one translation unit (the other builds here are in parts where the machine has several
    # CPUs: this one checks the one-unit form of the source against the oracle)
    env = {"PPVERIFY_MARCH": "x86-64-v3", "PPVERIFY_CACHE": str(cache),
           "PPVERIFY_BUILD_JOBS": "1"}
    result = run_child("""
        import json, warnings
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            from ppverify.ops import _native, native_vector_code
            code = native_vector_code()
        print(json.dumps({"code": code, "flags": _native.FLAGS,
                          "warnings": [str(w.message) for w in caught]}))
    """, env, timeout=BUILD_TIMEOUT)
    assert result["code"] == "avx2", result
    assert "-march=x86-64-v3" in result["flags"] and "-O3" in result["flags"], result
    [manifest] = cache.glob("ppool_kernel_*.json")
    assert json.loads(manifest.read_text())["parts"] == 1
    _assert_conforms([("p_pool{d}d", "ppool", (2, 3)), ("gem_pool2d", "powermean", 2)], env)
    assert len(list(cache.glob("ppool_kernel_*.so"))) == 1


def test_the_kernel_runs_the_vector_code_this_cpu_allows():
    """``native_vector_code()`` names the code the -march=native build runs: AVX-512 where the
    CPU has AVX-512F, the AVX2 emulation where it has AVX2 and FMA only (a CPU of that kind
    once got the scalar forms, 3-20x slower: docs/performance-history.md, "CPUs without
    AVX-512"), that emulation on NEON on every ARM64 machine, else the scalar forms."""
    from ppverify.ops import native_vector_code

    if not _native.available():
        assert native_vector_code() is None
        return
    flags = _native.cpu_flag_set()
    if not flags:
        pytest.skip("no /proc/cpuinfo flags to compare with")
    expected = ("neon" if platform.machine().lower() in ("aarch64", "arm64")
                else "avx512" if "avx512f" in flags
                else "avx2" if {"avx2", "fma"} <= flags else "scalar")
    assert native_vector_code() == expected
