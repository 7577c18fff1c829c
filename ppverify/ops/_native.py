"""The compiled CPU backend: ``ppool_kernel.cpp`` built with g++ on first use, loaded with
ctypes, and verified before it is trusted.

What it serves: P-pooling, the power mean (GeM) and the Lp norm (``power_kernel.inc``) on CPU
tensors of float32, bfloat16, float16 and float64 (the power engine hands float64 calls it
cannot hold to float64's bound, and backwards with terms beyond float64's range, back to the
pure-torch path: ``NotServed``), any pooling layout
(windowed with padding, dilation and ceil_mode, adaptive, global), contiguous or channels-last
memory (no copy), forward and backward (the input gradient and the parameter's, per plane). The
mathematics is ``ppverify.ops.functional``'s and ``ppverify.ops.power_mean``'s; the kernel's
own comments state its numerics. ``ppverify.ops._dispatch`` calls ``forward`` / ``backward``,
and for windows that share no element (every operator and dtype) ``forward_saved`` /
``backward_saved`` (the forward saves each element's dy/dx, the backward is one pass over
memory); for windows that share elements (P-pooling, float32 / bfloat16 / float16)
``forward_overlap_saved`` / ``backward_overlap_saved`` (the forward saves each element's weight
``E`` as a float and each window's dy/dalpha, the backward takes no logarithm or exponential),
and for the power mean and Lp in float32 ``forward_power_overlap_saved`` /
``backward_power_overlap_saved`` (the forward saves each element's ``E / x`` as a float and
each window's ``y / S`` and dy/dp, the backward is one coefficient per window and one pass per
input row).

The cache and how it is verified
--------------------------------
The library lives in ``$PPVERIFY_CACHE`` (default ``~/.cache/ppverify``) as
``ppool_kernel_<key>.so`` next to ``ppool_kernel_<key>.json``, with ``<key>`` a hash of the
sources (``ppool_kernel.cpp`` and every file it includes, ``INCLUDES``), the compiler flags,
the compiler and the CPU's feature flags (the build is for this machine's CPU: ``-march=native``
on x86-64, ``-mcpu=native`` on ARM64, or the CPU ``$PPVERIFY_MARCH`` names; ``cpu_target_flags``).
Before it is loaded:

* the file must be owned by the current user and writable by nobody else (a library written
  by another user would run as you); otherwise the kernel is built in a private temporary
  directory for this process;
* its size and SHA-256 must match the manifest written after the build (a truncated, empty or
  garbage file, which would crash ``dlopen`` with SIGBUS or fail it, is rebuilt);
* once loaded, the library must answer the handshake: ``ppv_abi_version()`` equal to
  ``ABI_VERSION`` and ``ppv_source_hash()`` equal to ``<key>`` (a stale or foreign library is
  rebuilt).

Where the process may use several CPUs, the build compiles the source in parts side by side
(``build_jobs``, ``PARTS``: the entry points of each dtype, and one part with the rest) and
links them; with one CPU, or ``PPVERIFY_BUILD_JOBS=1``, it is one translation unit. Both
compute the same bits.

Builds are atomic: the compiler writes a temporary file in the cache directory (named with the
builder's pid), which is renamed into place after its manifest is written, under an exclusive
lock (``flock``) so concurrent processes build once; temporary files of builders that died are
removed by the next build. An unwritable cache directory means a build in a private temporary
directory (one per process, removed at exit).

When the pure-torch path is used instead (``PPVERIFY_NATIVE=0``, no compiler, a failed build),
``available()`` is False and, except when you asked for it with ``PPVERIFY_NATIVE=0``, one
``NativeKernelWarning`` on stderr says why (``build_error`` keeps the reason). A kernel that
runs out of memory raises ``MemoryError``; no C++ exception crosses into Python or out of an
OpenMP region.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import functools
import hashlib
import json
import os
import platform
import shutil
import stat
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from pathlib import Path

import torch

from .._warnings import NativeKernelWarning as NativeKernelWarning  # (defined where torch is not)

SOURCE = Path(__file__).with_name("ppool_kernel.cpp")
#: the files ``SOURCE`` includes with ``#include "..."``: part of the cache key (and of the wheel)
INCLUDES = (Path(__file__).with_name("power_kernel.inc"),
            Path(__file__).with_name("fast_math.inc"),
            Path(__file__).with_name("simd8.inc"),
            Path(__file__).with_name("avx2_neon.inc"))


def cpu_target_flags(machine: str | None = None, march: str | None = None) -> list[str]:
    """The compiler flags that pick the CPU the kernel is built for.

    ``machine`` is ``platform.machine()`` (this machine's by default), ``march`` the value of
    ``$PPVERIFY_MARCH`` (by default read from the environment; empty or unset: this machine's
    own CPU). x86-64: ``-march=native`` (or ``-march=$PPVERIFY_MARCH``) and
    ``-mprefer-vector-width=512`` (wide vectors where AVX-512 exists). ARM64 (``aarch64``,
    ``arm64``): ``-mcpu=native`` (or ``-march=$PPVERIFY_MARCH``); the x86 options are not
    given, since GCC on ARM rejects them and the build would fail (the kernel runs its
    one-lane forms there). Any other machine: ``-march=$PPVERIFY_MARCH`` if set, else
    nothing (the compiler's default target)."""
    machine = (platform.machine() if machine is None else machine).lower()
    if march is None:
        march = os.environ.get("PPVERIFY_MARCH", "")
    march = march.strip()
    if machine in ("x86_64", "amd64", "i386", "i686", "x86"):
        return [f"-march={march or 'native'}", "-mprefer-vector-width=512"]
    if machine in ("aarch64", "arm64", "armv8l"):
        return [f"-march={march}"] if march else ["-mcpu=native"]
    return [f"-march={march}"] if march else []


#: the compiler's flags, fixed at import (``$PPVERIFY_MARCH`` is read then); part of the key.
#: ``-fno-ipa-cp-clone``: GCC's -O3 clones of functions for their constant arguments took 6 of
#: the build's 65 s here and made no call faster (``tests.kernel_ab``; the same bits,
#: ``tests.kernel_bits``); a compiler that does not know it (clang) builds without it
#: (``_TUNING_FLAGS``). ``-falign-functions=64``: each function starts on a cache line, so the
#: alignment of its loops does not move with edits elsewhere in its part (an unrelated change
#: in the integer-alpha backward moved ``load_weights_row``'s start by 16 bytes mod 64 and made
#: the saving forward 7-15% slower at k14-k56, ``tests.kernel_ab --saved``, the AMD EPYC
#: machine, 2026-12-07; with the flag the same change left it at 0.98-1.03x)
FLAGS = ["-O3", "-fno-ipa-cp-clone", *cpu_target_flags(), "-falign-functions=64", "-fopenmp",
         "-fno-math-errno", "-fno-trapping-math", "-shared", "-fPIC", "-std=c++17"]
#: the parts of a build in parts (``PPV_PART`` in ppool_kernel.cpp): 1-4 the entry points that
#: take a plan for float32, float64, bfloat16, float16, 0 the rest (the entry points without a
#: dtype, the state the parts share, the forwarders); largest first, the order compilers start
#: them in
PARTS = (3, 1, 4, 2, 0)
#: the flags of the link step of a build in parts
_LINK_FLAGS = ("-shared", "-fPIC", "-fopenmp")
ABI_VERSION = 6
PREFIX = "ppool_kernel_"

_lock = threading.Lock()
_lib = None
_tried = False
build_seconds: float | None = None  # compile time of this process's build (None if cached)
build_error: str | None = None      # why the kernel is not available (None if it is)
library_file: Path | None = None    # the file this process loaded
events: list[str] = []              # what the loader did (rebuilt a corrupt file, ...)


# --------------------------------------------------------------------------- the cache


def _cpu_flags() -> str:
    """The CPU's feature line of /proc/cpuinfo (x86 "flags", ARM "Features"), else the
    processor's and machine's names: part of the key, so that one cache shared by machines with
    different CPUs (a home directory on a cluster) holds a build per CPU."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith(("flags", "Features")):
                    return line
    except OSError:
        pass
    return platform.processor() + platform.machine()


def cpu_flag_set() -> set[str]:
    """The CPU's feature flags from /proc/cpuinfo (``avx2``, ``fma``, ``avx512f``, ...; on ARM
    its "Features": ``asimd``, ``sve``, ...); empty where there is no such file (tests decide
    from it which vector code a build can run)."""
    line = _cpu_flags()
    return set(line.split(":", 1)[1].split()) if line.startswith(("flags", "Features")) else set()


def _compiler() -> str | None:
    return os.environ.get("CXX") or shutil.which("g++") or shutil.which("c++")


def build_jobs() -> int:
    """How many compilers a build runs at once: ``$PPVERIFY_BUILD_JOBS`` if set, else the CPUs
    this process may use, at most ``len(PARTS)``. With one, the kernel is one translation unit
    (one compiler); with more, its parts (``PARTS``, one per dtype) are compiled side by side
    and linked: a build of 60 s as one unit took 38 s on two cores here, with 75 s of CPU time
    in all (``python -m tests.readme_figures build``, 2026-12-06). Either build computes the
    same bits (each kernel's code is the same; ``tests.kernel_bits``)."""
    value = os.environ.get("PPVERIFY_BUILD_JOBS", "").strip()
    if value:
        if not value.isdigit() or int(value) < 1:
            raise ValueError(f"PPVERIFY_BUILD_JOBS must be a positive integer, not {value!r}")
        return min(int(value), len(PARTS))
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, len(PARTS)))


def cache_dir() -> Path:
    """``$PPVERIFY_CACHE``, or ``~/.cache/ppverify``."""
    root = os.environ.get("PPVERIFY_CACHE") or os.path.join(
        os.path.expanduser("~"), ".cache", "ppverify")
    return Path(root)


@functools.lru_cache(maxsize=4)
def _key(compiler: str | None) -> str:
    h = hashlib.sha256()
    for part in (SOURCE.read_bytes(), *(f.read_bytes() for f in INCLUDES),
                 " ".join(FLAGS).encode(), _cpu_flags().encode(),
                 str(compiler).encode(), str(ABI_VERSION).encode()):
        h.update(part)
        h.update(b"\0")
    return h.hexdigest()[:16]


def library_path(directory: Path | None = None) -> Path:
    """Where the library for this source, flags, compiler and CPU lives."""
    return (directory or cache_dir()) / f"{PREFIX}{_key(_compiler())}.so"


def _manifest_path(lib: Path) -> Path:
    return lib.with_suffix(".json")


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _trusted_owner(st: os.stat_result) -> str | None:
    """None if a file with this status may be loaded, else why not."""
    if hasattr(os, "getuid") and st.st_uid != os.getuid():
        return f"it belongs to another user (uid {st.st_uid})"
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return "it is writable by other users"
    return None


def verify(lib: Path) -> str | None:
    """None if ``lib`` may be loaded: owned by this user, not writable by others, size and
    SHA-256 equal to its manifest's; else the reason (a sentence fragment)."""
    try:
        st = lib.stat()
    except FileNotFoundError:
        return "it does not exist"
    except OSError as err:
        return f"it cannot be read ({err.strerror})"
    why = _trusted_owner(st)
    if why:
        return why
    try:
        manifest = json.loads(_manifest_path(lib).read_text())
    except (OSError, ValueError):
        return "its manifest is missing or unreadable"
    if not isinstance(manifest, dict) or manifest.get("size") != st.st_size:
        return f"its size ({st.st_size} bytes) is not the size it was built with"
    try:
        digest = _sha256(lib)
    except OSError as err:
        return f"it cannot be read ({err.strerror})"
    if manifest.get("sha256") != digest:
        return "its SHA-256 does not match the one recorded when it was built"
    return None


def _remove_dead_temporaries(directory: Path) -> None:
    """Remove temporary build files whose builder (the pid in the name) is gone."""
    for tmp in directory.glob(f".{PREFIX}*.tmp*"):
        try:  # .ppool_kernel_<pid>.<thread>.tmp...: build's stem
            pid = int(tmp.name.split(".")[1][len(PREFIX):])
        except (IndexError, ValueError):
            continue
        alive = True
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            alive = False
        except (OSError, OverflowError):  # another user's process; not a pid
            pass
        if not alive or time.time() - tmp.stat().st_mtime > 3600:
            with contextlib.suppress(OSError):
                tmp.unlink()


@contextlib.contextmanager
def _build_lock(directory: Path):
    import fcntl

    fd = os.open(directory / ".build.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def build(target: Path) -> None:
    """Compile the kernel into ``target`` atomically, with its manifest."""
    global build_seconds
    compiler = _compiler()
    if compiler is None:
        raise RuntimeError("no C++ compiler found (install g++ or set CXX)")
    directory = target.parent
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    _remove_dead_temporaries(directory)
    stem = f".{PREFIX}{os.getpid()}.{threading.get_ident()}"
    jobs = build_jobs()
    how = (f"in {len(PARTS)} parts, {jobs} at once" if jobs > 1
           else "as one unit; a minute or more")
    _progress(f"ppverify: compiling the native kernel for this CPU with {compiler} (once per "
              f"source and machine; {how}) into {directory}")
    tmp = directory / f"{stem}.tmp.so"
    tmp_manifest = directory / f"{stem}.tmp.json"
    start = time.perf_counter()
    try:
        source_hash = f'-DPPV_SOURCE_HASH="{target.stem[len(PREFIX):]}"'
        flags, given_up = list(FLAGS), []
        while True:
            error = _compile(compiler, flags, source_hash, tmp, jobs)
            if error is None:
                break
            fewer = _fewer_flags(flags, error)
            if fewer is None:
                raise RuntimeError(f"compiling {SOURCE.name} failed:\n{error[-4000:]}")
            flags, what = fewer
            if what is not None:
                given_up.append(what)
        os.chmod(tmp, 0o700)
        tmp_manifest.write_text(json.dumps({"size": tmp.stat().st_size,
                                            "sha256": _sha256(tmp),
                                            "abi": ABI_VERSION, "key": target.stem,
                                            "flags": flags, "without": given_up,
                                            "parts": len(PARTS) if jobs > 1 else 1,
                                            "jobs": jobs}))
        os.replace(tmp, target)  # atomic: no process ever sees a partial library
        os.replace(tmp_manifest, _manifest_path(target))
    finally:
        for t in (tmp, tmp_manifest):
            with contextlib.suppress(OSError):
                t.unlink()
    build_seconds = time.perf_counter() - start
    _progress(f"ppverify: the native kernel was compiled in {build_seconds:.0f} s")
    if given_up:
        _say(f"ppverify: {compiler} could not compile the kernel with "
             f"{' or '.join(given_up)}; it was built without "
             f"{'them' if len(given_up) > 1 else 'it'} ({' '.join(flags)})")


def _compile(compiler: str, flags: list[str], source_hash: str, out: Path,
             jobs: int) -> str | None:
    """Compile the kernel into ``out``: one command, or with ``jobs`` > 1 each part of
    ``PARTS`` into an object file next to ``out`` (``jobs`` compilers at once), then a link.
    Returns None, or the compiler's stderr of the first step that failed (which
    ``_fewer_flags`` reads)."""
    def run(command: list[str]) -> subprocess.CompletedProcess:
        return subprocess.run(command, capture_output=True, text=True, timeout=300)

    if jobs <= 1:
        proc = run([compiler, *flags, source_hash, str(SOURCE), "-o", str(out)])
        return None if proc.returncode == 0 else proc.stderr
    from concurrent.futures import ThreadPoolExecutor

    compile_flags = [f for f in flags if f != "-shared"]
    objects = [out.with_name(f"{out.name}.part{k}.o") for k in PARTS]
    try:
        with ThreadPoolExecutor(jobs) as pool:
            procs = list(pool.map(
                lambda k, obj: run([compiler, *compile_flags, source_hash, f"-DPPV_PART={k}",
                                    "-c", str(SOURCE), "-o", str(obj)]), PARTS, objects))
        for proc in procs:
            if proc.returncode != 0:
                return proc.stderr
        proc = run([compiler, *[f for f in flags if f in _LINK_FLAGS], *map(str, objects),
                    "-o", str(out)])
        return None if proc.returncode == 0 else proc.stderr
    finally:
        for obj in objects:
            with contextlib.suppress(OSError):
                obj.unlink()


#: flags of build speed or code layout alone (-fno-ipa-cp-clone: the build's time;
#: -falign-functions=64: where functions start): a compiler that rejects one builds without it,
#: and nothing is said (the library computes the same)
_TUNING_FLAGS = ("-fno-ipa-cp-clone", "-falign-functions=64")
#: the flags that pick a CPU (``cpu_target_flags``), which a compiler may not know
_TARGET_OPTIONS = ("-march=", "-mcpu=", "-mprefer-vector-width=")


def _fewer_flags(flags: list[str], stderr: str) -> tuple[list[str], str | None] | None:
    """After a build with ``flags`` failed with ``stderr``: the flags to try next and what they
    give up (a phrase; None for a flag of ``_TUNING_FLAGS``, which gives up nothing the library
    computes: clang rejects GCC's -fno-ipa-cp-clone), where the failure is a compiler without
    a feature the flags ask for; else None (a real error). A compiler without OpenMP (Apple's
    clang: "unsupported option '-fopenmp'"; a clang without libomp: "'omp.h' file not found")
    builds without ``-fopenmp`` (the kernel's parallel regions then run on one thread); a
    compiler that rejects a CPU option (``-march=native`` where it cannot detect the CPU, an
    x86 option on another machine) builds for its default CPU."""
    # only the compiler's own error lines count (a line of the kernel's source that fails to
    # compile is a real error, whatever it mentions)
    errors = [line.lower() for line in stderr.splitlines() if "error" in line.lower()]
    rejected = [f for f in flags if f in _TUNING_FLAGS and any(f in e for e in errors)]
    if rejected:
        return [f for f in flags if f not in rejected], None
    if "-fopenmp" in flags and any(
            "-fopenmp" in e or "omp.h" in e or "-lgomp" in e or "-lomp" in e for e in errors):
        return ([f for f in flags if f != "-fopenmp"],
                "OpenMP (-fopenmp: every call then runs on one thread)")
    target = [f for f in flags if f.startswith(_TARGET_OPTIONS)]
    if any(option.rstrip("=") in e for option in _TARGET_OPTIONS for e in errors) and target:
        return ([f for f in flags if f not in target],
                f"its CPU options ({' '.join(target)}: built for the compiler's default CPU)")
    return None


def _writable(directory: Path) -> str | None:
    """None if a build can be written to ``directory``, else why not."""
    try:
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as err:
        return f"it cannot be created ({err.strerror})"
    if not os.access(directory, os.W_OK | os.X_OK):
        return "it is not writable"
    st = directory.stat()
    if hasattr(os, "getuid") and st.st_uid != os.getuid() and not (st.st_mode & stat.S_ISVTX):
        return f"it belongs to another user (uid {st.st_uid})"
    return None


_private_dir: Path | None = None


def _private_directory() -> Path:
    global _private_dir
    if _private_dir is None:
        _private_dir = Path(tempfile.mkdtemp(prefix="ppverify-kernel-"))
        atexit.register(shutil.rmtree, _private_dir, True)
    return _private_dir


def _open(path: Path):
    lib = ctypes.CDLL(str(path))
    lib.ppv_abi_version.restype = ctypes.c_int64
    lib.ppv_abi_version.argtypes = []
    lib.ppv_source_hash.restype = ctypes.c_char_p
    lib.ppv_source_hash.argtypes = []
    abi = lib.ppv_abi_version()
    source = lib.ppv_source_hash().decode()
    if abi != ABI_VERSION or source != path.stem[len(PREFIX):]:
        raise OSError(f"handshake failed: ABI {abi}, source {source} (expected {ABI_VERSION}, "
                      f"{path.stem[len(PREFIX):]})")
    vp, i32 = ctypes.c_void_p, ctypes.c_int
    lib.ppv_openmp.restype = ctypes.c_int64
    lib.ppv_openmp.argtypes = []
    lib.ppv_forward.argtypes = [vp, vp, vp, vp, i32]
    lib.ppv_forward.restype = i32
    lib.ppv_backward.argtypes = [vp, vp, vp, vp, vp, vp, i32]
    lib.ppv_backward.restype = i32
    lib.ppv_forward_saved.argtypes = [vp, vp, vp, vp, vp, vp, i32]
    lib.ppv_forward_saved.restype = i32
    lib.ppv_backward_saved.argtypes = [vp, vp, vp, vp, vp, vp, i32]
    lib.ppv_backward_saved.restype = i32
    lib.ppv_forward_saved_int.argtypes = [vp, vp, vp, vp, vp, vp, i32, i32]
    lib.ppv_forward_saved_int.restype = i32
    lib.ppv_backward_saved_int.argtypes = [vp, vp, vp, vp, vp, vp, vp, vp, i32, i32]
    lib.ppv_backward_saved_int.restype = i32
    lib.ppv_forward_overlap_saved.argtypes = [vp, vp, vp, vp, vp, vp, vp, i32]
    lib.ppv_forward_overlap_saved.restype = i32
    lib.ppv_backward_overlap_saved.argtypes = [vp, vp, vp, vp, vp, vp, vp, vp, vp, i32]
    lib.ppv_backward_overlap_saved.restype = i32
    lib.ppv_forward_overlap_saved64.argtypes = [vp, vp, vp, vp, vp, vp, vp, i32]
    lib.ppv_forward_overlap_saved64.restype = i32
    lib.ppv_backward_overlap_saved64.argtypes = [vp, vp, vp, vp, vp, vp, vp, vp, vp, i32]
    lib.ppv_backward_overlap_saved64.restype = i32
    lib.ppv_forward_power_overlap_saved.argtypes = [vp, vp, vp, vp, vp, vp, vp, i32]
    lib.ppv_forward_power_overlap_saved.restype = i32
    lib.ppv_backward_power_overlap_saved.argtypes = [vp, vp, vp, vp, vp, vp, vp, vp, i32]
    lib.ppv_backward_power_overlap_saved.restype = i32
    lib.ppv_overlap_redone.argtypes = []
    lib.ppv_overlap_redone.restype = ctypes.c_int64
    lib.ppv_lean_windows64.argtypes = []
    lib.ppv_lean_windows64.restype = ctypes.c_int64
    lib.ppv_lean64.argtypes = [i32]
    lib.ppv_lean64.restype = i32
    lib.ppv_plan_axis.argtypes = [vp, i32, vp]
    lib.ppv_plan_axis.restype = i32
    lib.ppv_segments.argtypes = [vp, i32, i32, vp]
    lib.ppv_segments.restype = i32
    lib.ppv_lane_slices.argtypes = [vp]
    lib.ppv_lane_slices.restype = None
    lib.ppv_pow_dp_passes.argtypes = []
    lib.ppv_pow_dp_passes.restype = ctypes.c_int64
    lib.ppv_pow_segment_sizes.argtypes = [ctypes.c_int64, ctypes.c_int64, vp]
    lib.ppv_pow_segment_sizes.restype = None
    lib.ppv_lane_slice_parts.argtypes = [vp]
    lib.ppv_lane_slice_parts.restype = None
    lib.ppv_xpart_kept_rows.argtypes = []
    lib.ppv_xpart_kept_rows.restype = ctypes.c_int64
    lib.ppv_segment_grain.argtypes = [ctypes.c_int64]
    lib.ppv_segment_grain.restype = ctypes.c_int64
    lib.ppv_segment_cols.argtypes = [ctypes.c_int64]
    lib.ppv_segment_cols.restype = ctypes.c_int64
    lib.ppv_thread_pairs.argtypes = [ctypes.c_int64]
    lib.ppv_thread_pairs.restype = ctypes.c_int64
    lib.ppv_forward_sum_paths.argtypes = [vp]
    lib.ppv_forward_sum_paths.restype = None
    lib.ppv_backward_sum_paths.argtypes = [vp]
    lib.ppv_backward_sum_paths.restype = None
    lib.ppv_direct_rows.argtypes = []
    lib.ppv_direct_rows.restype = ctypes.c_int64
    lib.ppv_direct_enable.argtypes = [ctypes.c_int64]
    lib.ppv_direct_enable.restype = ctypes.c_int64
    lib.ppv_weight_paths.argtypes = [vp]
    lib.ppv_weight_paths.restype = None
    lib.ppv_special_windows.argtypes = [vp]
    lib.ppv_special_windows.restype = None
    lib.ppv_saved_jac_paths.argtypes = [vp]
    lib.ppv_saved_jac_paths.restype = None
    lib.ppv_saved_backward_paths.argtypes = [vp]
    lib.ppv_saved_backward_paths.restype = None
    lib.ppv_thread_groups.argtypes = [vp, i32, vp]
    lib.ppv_thread_groups.restype = i32
    lib.ppv_layout_paths.argtypes = [vp]
    lib.ppv_layout_paths.restype = None
    lib.ppv_cl_band_bytes.argtypes = [ctypes.c_int64]
    lib.ppv_cl_band_bytes.restype = ctypes.c_int64
    lib.ppv_pow_cache_bytes.argtypes = [ctypes.c_int64]
    lib.ppv_pow_cache_bytes.restype = ctypes.c_int64
    lib.ppv_cache_bytes.argtypes = [ctypes.c_int64]
    lib.ppv_cache_bytes.restype = ctypes.c_int64
    lib.ppv_pow_ucomp_terms.argtypes = [ctypes.c_int64]
    lib.ppv_pow_ucomp_terms.restype = ctypes.c_int64
    lib.ppv_jac_stream_bytes.argtypes = [ctypes.c_int64]
    lib.ppv_jac_stream_bytes.restype = ctypes.c_int64
    lib.ppv_vector_isa.argtypes = []
    lib.ppv_vector_isa.restype = ctypes.c_int64
    lib.ppv_pair_log_paths.argtypes = [vp]
    lib.ppv_pair_log_paths.restype = None
    lib.ppv_ln_dd.argtypes = [vp, ctypes.c_int64, vp, vp]
    lib.ppv_ln_dd.restype = None
    lib.ppv_exp_dd_tab.argtypes = [vp, vp, ctypes.c_int64, vp, vp]
    lib.ppv_exp_dd_tab.restype = None
    return lib


def _progress(message: str) -> None:
    """A line on stderr about long work (the kernel's build), not a warning: a first call that
    compiles would otherwise seem to hang for a minute."""
    with contextlib.suppress(Exception):  # no stderr, or a closed one: nothing to say it on
        print(message, file=sys.stderr, flush=True)


def _say(message: str) -> None:
    events.append(message)
    warnings.warn(message, NativeKernelWarning, stacklevel=4)


def _load_from(directory: Path):
    """Load (building or rebuilding as needed) the library in ``directory``."""
    global library_file
    path = library_path(directory)
    why = verify(path)
    if why is None:
        try:
            lib = _open(path)
            library_file = path
            return lib
        except OSError as err:
            why = f"it does not load ({err})"
    with _build_lock(directory):
        # another process may have built it while this one waited for the lock
        if verify(path) is not None:
            if path.exists():
                _say(f"ppverify: the cached kernel {path} was rebuilt because {why}")
            build(path)
    problem = verify(path)
    if problem is not None:
        raise RuntimeError(f"the freshly built kernel {path} cannot be trusted: {problem}")
    lib = _open(path)
    library_file = path
    return lib


def load():
    """Build (if needed), verify and load the kernel library; return it, or None."""
    global _lib, _tried, build_error, library_file
    if _tried:
        return _lib
    with _lock:
        if _tried:
            return _lib
        if os.environ.get("PPVERIFY_NATIVE", "1") == "0":
            build_error = "disabled by PPVERIFY_NATIVE=0"
            _tried = True
            return None
        directory = cache_dir()
        try:
            unusable = _writable(directory)
            path = library_path(directory)
            if unusable is not None:
                # a library already there may still be used if it verifies
                if verify(path) is None:
                    _lib = _open(path)
                    library_file = path
                else:
                    _say(f"ppverify: the kernel cache {directory} cannot be used ({unusable}); "
                         f"building the kernel in a private temporary directory for this "
                         f"process (set PPVERIFY_CACHE to a writable directory to keep it)")
                    _lib = _load_from(_private_directory())
            else:
                owner_problem = None
                with contextlib.suppress(FileNotFoundError):
                    owner_problem = _trusted_owner(path.stat())
                if owner_problem is not None:
                    _say(f"ppverify: not loading the cached kernel {path}: {owner_problem}; "
                         f"building it in a private temporary directory for this process")
                    _lib = _load_from(_private_directory())
                else:
                    _lib = _load_from(directory)
        except Exception as err:  # any failure means: use the pure-torch path
            build_error = str(err)
            _lib = None
            _say(f"ppverify: the compiled kernel is not available, the pure-torch path runs "
                 f"instead (several times slower): {err}")
        if _lib is not None and not _lib.ppv_openmp() and build_seconds is None:
            # (a build in this process has said so already)
            _say(f"ppverify: the compiled kernel {library_file} was built without OpenMP (its "
                 f"compiler had none): every call runs on one thread. For threads, build with "
                 f"a compiler that has OpenMP (macOS: brew install gcc, then CXX=g++-14; or "
                 f"LLVM's clang with libomp) and remove the cached file")
        _tried = True
    return _lib


def available() -> bool:
    return (_lib if _tried else load()) is not None


# ------------------------------------------------------------------------------ plans

_DTYPES = {torch.float32: 0, torch.float64: 1, torch.bfloat16: 2, torch.float16: 3}
_OPS = {"ppool": 0, "powermean": 1, "lp": 2}
PLAN_HEAD = 28
#: a windowed axis with at least this many outputs goes in the plan as its geometry (kernel,
#: stride, padding, dilation: the kernel computes each window's start and count), not as two
#: tables of 8 B per output (a signal of 2,000,000 samples, k3 s1: 32 MB of tables); shorter
#: axes keep their tables (at most 64 KB, read from cache). Adaptive axes always have tables.
COMPACT_MIN_OUTPUTS = 4096
#: the dtypes the kernel serves per operator (every one, for each)
_OP_DTYPES = {"ppool": frozenset(_DTYPES), "powermean": frozenset(_DTYPES),
              "lp": frozenset(_DTYPES)}


def supports(op: str, dtype: torch.dtype) -> bool:
    served = _OP_DTYPES.get(op)
    return served is not None and dtype in served


def _fill_axis(layout, a: int, length: int, starts, counts) -> int:
    """Fill one axis's table in place (``starts``, ``counts``: int64 views of the plan, one
    entry per output index): output ``o`` reads input indices ``start[o] + j * step``,
    ``j < count[o]`` (padding and overhang excluded); returns ``step``. Long axes (a 1-D signal
    of millions of samples) need no temporaries the size of the table: the windows away from
    the edges are computed in place and only the clipped ones at either end are corrected."""
    import numpy as np

    from ..windows import AdaptiveGeometry

    n_out = len(starts)
    starts[:] = np.arange(n_out, dtype=np.int64)
    if isinstance(layout, AdaptiveGeometry):  # [floor(o L / n), ceil((o + 1) L / n))
        counts[:] = starts
        counts += 1
        counts *= -length
        counts //= n_out
        np.negative(counts, out=counts)    # the ends
        starts *= length
        starts //= n_out
        counts -= starts
        return 1
    k, s, p, d = (layout.kernel_size[a], layout.stride[a], layout.padding[a],
                  layout.dilation[a])
    starts *= s
    starts -= p                            # the first index of each window, padding included
    counts.fill(k)
    lo, hi = _whole_windows(length, n_out, k, s, p, d)
    for edge in (slice(0, lo), slice(hi, n_out)):
        _clip(starts[edge], counts[edge], length, k, d)
    return d


def _whole_windows(length: int, n_out: int, k: int, s: int, p: int, d: int) -> tuple[int, int]:
    """``(lo, hi)``: the outputs ``[lo, hi)`` of a windowed axis (input ``length``, ``n_out``
    outputs, kernel ``k``, stride ``s``, padding ``p``, dilation ``d``) whose windows lie wholly
    inside the input (``k`` elements from ``o s - p`` by ``d``); the ones before and after are
    clipped."""
    lo = min(n_out, -(-p // s))
    return lo, max(lo, min(n_out, (length - 1 + p - (k - 1) * d) // s + 1))


def _clip(first, counts, length: int, k: int, d: int) -> None:
    """Windows ``first + j d`` (``j < k``; ``first``, ``counts``: int64 arrays, changed in
    place) less the positions outside ``[0, length)``: ``first`` becomes the first position
    inside, ``counts`` how many there are (0: none)."""
    import numpy as np

    j_lo = np.where(first < 0, (-first + d - 1) // d, 0)
    j_hi = np.minimum(k, np.where(length > first, (length - first + d - 1) // d, 0))
    counts[:] = np.maximum(j_hi - j_lo, 0)
    first += j_lo * d


def _compact(layout, n_out: int) -> bool:
    from ..windows import AdaptiveGeometry

    return not isinstance(layout, AdaptiveGeometry) and n_out >= COMPACT_MIN_OUTPUTS


def make_plan(op: str, layout, shape: tuple[int, ...], dtype: torch.dtype,
              channels_last: bool, param_mode: int, out: tuple[int, ...]):
    """The kernel's int64 description of one call (``Plan::parse`` in the kernel): a header of
    ``PLAN_HEAD`` ints (ABI, dtype, memory format, N, C, operator, parameter mode, then per
    D, H, W axis: input and output sizes, steps, forms, and for a compact axis its kernel,
    stride and padding; 1-D and 2-D pooling are embedded in 3-D), then the windows' starts and
    counts of each axis whose form is 0 (a table, written in place: the plan is the only
    table-sized array). Form 1 (a windowed axis of ``COMPACT_MIN_OUTPUTS`` outputs or more):
    no table, the kernel computes the windows from the geometry."""
    import numpy as np

    N, C, *spatial = shape
    pad = 3 - len(spatial)
    spatial3 = [1] * pad + list(spatial)
    out3 = [1] * pad + list(out)
    compact = [axis >= pad and _compact(layout, out3[axis]) for axis in range(3)]
    geometry = [[0, 0, 0] for _ in range(3)]  # per axis: kernel, stride, padding (compact)
    for axis in range(3):
        if compact[axis]:
            a = axis - pad
            geometry[axis] = [layout.kernel_size[a], layout.stride[a], layout.padding[a]]
    head = [ABI_VERSION, _DTYPES[dtype], int(channels_last), N, C, _OPS[op], param_mode,
            *spatial3, *out3, 0, 0, 0, *(int(c) for c in compact),
            *(g[0] for g in geometry), *(g[1] for g in geometry), *(g[2] for g in geometry)]
    assert len(head) == PLAN_HEAD
    tables = sum(2 * n for n, c in zip(out3, compact) if not c)
    plan = np.empty(PLAN_HEAD + tables, dtype=np.int64)
    plan[:PLAN_HEAD] = head
    at = PLAN_HEAD
    for axis in range(3):
        n = out3[axis]
        if axis < pad:
            step = 1
        elif compact[axis]:
            step = layout.dilation[axis - pad]
        if not compact[axis]:
            starts, counts = plan[at:at + n], plan[at + n:at + 2 * n]
            if axis < pad:
                starts[:] = 0
                counts[:] = 1
            else:
                step = _fill_axis(layout, axis - pad, spatial3[axis], starts, counts)
            at += 2 * n
        plan[13 + axis] = step
    plan.setflags(write=False)
    return plan


def plan_compact_axes(plan) -> tuple[bool, bool, bool]:
    """Per D, H, W axis of ``plan``: whether it is compact (no table; form 1)."""
    return tuple(bool(f) for f in plan[16:19].tolist())


def axis_windows(plan, axis: int, lo: int, hi: int):
    """``(starts, counts)`` (int64 arrays) of outputs ``[lo, hi)`` of axis ``axis`` (0 D, 1 H,
    2 W) of ``plan``: its table's entries, or a compact axis's computed ones (as the kernel
    computes them)."""
    import numpy as np

    outs = plan[10:13].tolist()
    if plan[16 + axis]:
        k, s, p = (int(plan[19 + axis]), int(plan[22 + axis]), int(plan[25 + axis]))
        starts = np.arange(lo, hi, dtype=np.int64) * s - p
        counts = np.full(hi - lo, k, dtype=np.int64)
        _clip(starts, counts, int(plan[7 + axis]), k, int(plan[13 + axis]))
        return starts, counts
    at = PLAN_HEAD + sum(2 * outs[a] for a in range(axis) if not plan[16 + a])
    n = outs[axis]
    return plan[at + lo:at + hi], plan[at + n + lo:at + n + hi]


def forward_function():
    """The loaded kernel's ``ppv_forward`` (ctypes), for callers that have a plan and call it
    directly (``ppverify.ops._dispatch``'s eager shortcut): ``forward``'s arguments as
    addresses, ``(plan, x, param, out, threads) -> status``."""
    return (_lib or load()).ppv_forward


class NotServed(Exception):
    """The kernel handed the call back (status ``_HAND_BACK``): the power mean or the Lp norm on
    float64 inputs with a window its fast form cannot hold to float64's bound (an exponent
    below 1/16, a plane whose weights would leave float64's normal range, a coefficient beyond
    it), or a backward in any dtype with a gradient term beyond float64's range (the Lp norm
    at a tiny p: y ~ n^(1/p)), which the pure-torch path sums as m 2^k. The dispatcher runs the
    call on the pure-torch path instead, which serves every window; nothing the kernel wrote
    is used."""


def status(code: int) -> bool:
    """A kernel's non-zero status as ``forward``'s result (True: some window holds a bad
    element); ``NotServed`` where the kernel handed the call back, ``MemoryError`` /
    ``RuntimeError`` for the failures."""
    if code == _HAND_BACK:
        raise NotServed("the power engine hands this call to the pure-torch path")
    if code & 3 == 3:  # ST_ARGS (3) holds bit 2 too: it is not an out-of-memory
        raise RuntimeError(f"ppverify kernel: invalid call (status {code}: it refused the "
                           f"plan)")
    if code & 2:
        raise MemoryError("ppverify kernel: out of memory for its scratch buffers")
    if code & ~(3 | _UNSAVED):
        raise RuntimeError(f"ppverify kernel: invalid call (status {code})")
    return bool(code & 1)


def forward(plan: int, x: torch.Tensor, param: torch.Tensor, out: torch.Tensor) -> bool:
    """Fill ``out`` (allocated by the caller in ``x``'s dtype and memory format) for the plan
    at address ``plan`` (``make_plan(...).ctypes.data``); ``param`` is contiguous float64 with
    one value, one per channel or one per plane. Returns True if some window holds a negative,
    NaN or infinite element, or a parameter is not finite (those outputs are NaN)."""
    code = (_lib or load()).ppv_forward(plan, x.data_ptr(), param.data_ptr(), out.data_ptr(),
                            torch.get_num_threads())
    return status(code) if code else False


#: ``ppv_forward_saved``'s status bit: the saved state is not usable (some dy/dx is beyond
#: float32's range, e.g. ``alpha x^(alpha-1)`` at a subnormal x); the backward must recompute
_UNSAVED = 4
#: the kernel's status where the pure-torch path must serve the call (``NotServed``)
_HAND_BACK = 128


def saves(dtype: torch.dtype) -> bool:
    """Whether ``forward_saved`` serves ``dtype`` (every dtype the kernel serves)."""
    return dtype in _DTYPES


def jac_dtype(dtype: torch.dtype) -> torch.dtype:
    """The dtype of ``forward_saved``'s dy/dx for an input of ``dtype``: float64 for float64
    (the exact engine's gradients, kept as the recomputing backward forms them), else float32."""
    return torch.float64 if dtype is torch.float64 else torch.float32


def plan_disjoint(plan) -> bool:
    """Whether every input element lies in at most one window of ``plan`` (``make_plan``'s):
    on every axis, each window ends before the next one starts (stride >= kernel, adaptive
    sizes that divide, ...); the condition for the saved state. Conservative: dilated windows
    that interleave without sharing an element count as overlapping. A compact axis is decided
    from its geometry (``_compact_axis_disjoint``), a table's in pieces: neither makes
    temporaries the size of the axis (a signal of 100,000 samples made 1.6 MB of them, more
    than the op's own scratch)."""
    outs = plan[10:13].tolist()
    return all(_compact_axis_disjoint(plan, axis) if plan[16 + axis]
               else _pieces_disjoint(plan, axis, n_out) for axis, n_out in enumerate(outs))


def _pieces_disjoint(plan, axis: int, n_out: int) -> bool:
    """``plan_disjoint`` for one axis, its windows read in pieces of ``_PIECE`` outputs."""
    import numpy as np

    step = int(plan[13 + axis])
    previous_last = None  # the last element of the previous piece's last non-empty window
    for lo in range(0, n_out, _PIECE):
        hi = min(n_out, lo + _PIECE)
        starts, counts = axis_windows(plan, axis, lo, hi)
        nonempty = counts > 0
        first = starts[nonempty]
        if not len(first):
            continue
        last = first + (counts[nonempty] - 1) * step
        if np.any(first[1:] <= last[:-1]) or (
                previous_last is not None and first[0] <= previous_last):
            return False
        previous_last = int(last[-1])
    return True


def _compact_geometry(plan, axis: int) -> tuple[int, int, int, int, int, int]:
    """A compact axis's ``(length, outputs, kernel, stride, padding, dilation)``."""
    return (int(plan[7 + axis]), int(plan[10 + axis]), int(plan[19 + axis]),
            int(plan[22 + axis]), int(plan[25 + axis]), int(plan[13 + axis]))


def _compact_axis_disjoint(plan, axis: int) -> bool:
    """``plan_disjoint`` for a compact axis: where two or more windows lie wholly inside the
    input, the windows are disjoint exactly when one window's last element, ``(k - 1) d``
    after its first, comes before the next one's first, ``s`` after (the clipped windows at
    the ends hold subsets of such windows); else (few outputs) as a table's, in pieces."""
    length, n_out, k, s, p, d = _compact_geometry(plan, axis)
    lo, hi = _whole_windows(length, n_out, k, s, p, d)
    if hi - lo < 2:
        return _pieces_disjoint(plan, axis, n_out)
    return (k - 1) * d < s


_PIECE = 1 << 16  # outputs per piece of plan_disjoint and plan_covers


def plan_covers(plan) -> bool:
    """Whether the windows of a disjoint ``plan`` hold every input element (else the elements
    outside them need a dy/dx of 0 that ``forward_saved`` does not write: its caller zeroes
    ``jac`` first)."""
    return all(total == length for length, _, total in _axis_window_totals(plan))


def _axis_window_totals(plan):
    """Per axis of ``plan``: ``(input length, outputs, elements summed over its windows)``,
    a table's counts read in pieces, a compact axis's ``k`` per whole window and its clipped
    windows at the ends counted (no temporaries the size of the axis)."""
    for axis, (length, n_out) in enumerate(zip(plan[7:10].tolist(), plan[10:13].tolist())):
        if plan[16 + axis]:
            _, _, k, s, p, d = _compact_geometry(plan, axis)
            lo, hi = _whole_windows(length, n_out, k, s, p, d)
            edges = [axis_windows(plan, axis, 0, lo)[1], axis_windows(plan, axis, hi, n_out)[1]]
            yield length, n_out, (hi - lo) * k + sum(int(c.clip(min=0).sum()) for c in edges)
            continue
        yield length, n_out, sum(
            int(axis_windows(plan, axis, lo, min(n_out, lo + _PIECE))[1].clip(min=0).sum())
            for lo in range(0, n_out, _PIECE))


def forward_saved(plan: int, x: torch.Tensor, param: torch.Tensor, out: torch.Tensor,
                  jac: torch.Tensor, dw: torch.Tensor | None) -> tuple[bool, bool]:
    """``forward``, and the state a backward needs instead of recomputing (windows that share
    no element): ``jac`` (``jac_dtype(x.dtype)``: float32, or float64 for a float64 input;
    ``x``'s shape and memory format) gets each element's dy/dx of its window (0 outside every
    window), ``dw`` (float64, ``out``'s shape and format; None: not wanted) each window's
    dy/dparam. For float32 / bfloat16 / float16, elements outside every window are not written
    (zero ``jac`` first where ``plan_covers`` is False); float64 writes every element.
    Returns ``(bad, usable)``: ``bad`` as ``forward``'s result, ``usable`` False when the state
    must not be used (a dy/dx beyond float32's range, a float64 window's dy/dparam that
    overflows or is subnormal in a window of subnormal-scale inputs, or a bad window). A dy/dx
    that float32 holds only as a subnormal or zero costs at most ``2^-150 |grad_out|``, far
    below the gradient's bound (relative to the window's largest gradient, which is O(1));
    float64's state is the recomputing backward's dy/dx itself, so ``grad_out * jac`` is that
    backward's input gradient bit for bit."""
    code = (_lib or load()).ppv_forward_saved(plan, x.data_ptr(), param.data_ptr(),
                                              out.data_ptr(), jac.data_ptr(),
                                              dw.data_ptr() if dw is not None else None,
                                              torch.get_num_threads())
    if not code:
        return False, True
    return status(code), not code & (_UNSAVED | 1)


def backward_saved(plan: int, jac: torch.Tensor, dw: torch.Tensor | None,
                   grad_out: torch.Tensor, grad_in: torch.Tensor,
                   param_shape: torch.Size) -> torch.Tensor | None:
    """``backward`` from ``forward_saved``'s state for the same plan: ``grad_in`` (x's dtype
    and format; for float64 it may be ``jac`` itself) gets ``grad_out[window] * jac``; returns
    the parameter gradient (float64, ``param_shape``; per plane a plain sum in double, as the
    fast engine's ``backward``, and for float64 a sum with power-of-two scaling where some term
    is beyond [2^-960, 2^960]) when ``dw`` is given, else None."""
    dparam = None if dw is None else torch.empty(param_shape, dtype=torch.float64)
    code = (_lib or load()).ppv_backward_saved(
        plan, jac.data_ptr(), None if dw is None else dw.data_ptr(), grad_out.data_ptr(),
        grad_in.data_ptr(), None if dparam is None else dparam.data_ptr(),
        torch.get_num_threads())
    if code:
        status(code)
    return dparam


#: windows of at least this many elements on average take the integer-alpha window state
#: (``forward_saved_int``; the kernel's INT_STATE_MIN_MEAN)
INT_STATE_MIN_MEAN = 16.0


#: where windows share elements, the integer-alpha window state serves inputs of this many
#: elements or more per window (its 16 bytes per window then take no more than the overlap
#: state's 4 bytes per input element; the kernel's INT_OVERLAP_MIN_RATIO)
INT_OVERLAP_MIN_RATIO = 4


#: the kernel's column tile (TILE_COLS): a window wider than this is summed in chunks, and
#: the integer-alpha window state's forward then keeps no state (the backward recomputes)
TILE_COLS = 2048


#: the integer-alpha window state where windows share elements serves input rows of this many
#: elements or more (W times C: channels-last memory): its backward's work per row (the output
#: rows' constants spread over the row's pixels) did not pay on short rows. Measured on
#: contiguous memory (a row of W elements; fixed / learnable alpha 2, k3 s2 p1, fwd+bwd, two
#: threads, the AMD EPYC machine, 2026-12-07, against the overlap state): (2, 16, 28, 28, 28)
#: 2.20 -> 2.44-2.48 ms and 2.69-2.84 -> 3.05-3.36 (slower), (8, 64, 28, 28) 1.19-1.36 ->
#: 1.07-1.19 and 1.52-1.68 -> 1.41-1.78, (8, 64, 56, 56) 4.34-4.45 -> 3.66-3.78 and 5.75-5.81
#: -> 5.22-5.59, (2, 16, 56, 56, 56) 18.9 -> 16.4-16.6 and 22.6-22.9 -> 21.0-21.1
INT_OVERLAP_MIN_ROW = 48


def int_overlap_fits(plan, n_in: int, n_out: int, row_elements: int) -> bool:
    """Whether the integer-alpha window state serves a channels-last plan whose windows share
    elements (``n_in`` input and ``n_out`` output elements, input rows of ``row_elements``,
    W times C): ``INT_OVERLAP_MIN_RATIO`` input elements or more per window, windows of 4
    elements or more on average (the kernel's ``int_overlap_fits``, which accepts what this
    accepts), none wider than ``TILE_COLS`` columns (which the overlap state serves and this
    one would leave to a recomputing backward) and rows of ``INT_OVERLAP_MIN_ROW`` elements or
    more."""
    return (n_in >= INT_OVERLAP_MIN_RATIO * n_out > 0 and row_elements >= INT_OVERLAP_MIN_ROW
            and plan_window_mean(plan) >= 4.0 and _widest_window(plan, 2) <= TILE_COLS)


def _widest_window(plan, axis: int) -> int:
    """The most indices one window of ``plan``'s axis ``axis`` spans, first to last."""
    step, n_out = int(plan[13 + axis]), int(plan[10 + axis])
    if plan[16 + axis]:
        return (int(plan[19 + axis]) - 1) * step + 1
    widest = 0
    for lo in range(0, n_out, _PIECE):
        counts = axis_windows(plan, axis, lo, min(n_out, lo + _PIECE))[1]
        widest = max(widest, int(counts.max(initial=0)))
    return (widest - 1) * step + 1 if widest > 0 else 0


def int_state_alpha(param: torch.Tensor) -> bool:
    """Whether ``param`` (the kernel's contiguous float64 parameter on the CPU: one value, or
    one per channel) is one alpha of 0, 1, 2, 3 or 4 for every plane: the integer-alpha
    window state's parameter (``forward_saved_int``; the kernel's ``int_state_serves`` also
    asks for P-pooling of float32, bfloat16 or float16 and windows that share no element and
    hold ``INT_STATE_MIN_MEAN`` elements or more on average, which ``_dispatch`` settles once
    per kind of call)."""
    values = param.reshape(-1)
    first = float(values[0])
    return first in (0.0, 1.0, 2.0, 3.0, 4.0) and (
        values.numel() == 1 or bool((values == first).all()))


def forward_saved_int(plan: int, x: torch.Tensor, param: torch.Tensor, out: torch.Tensor,
                      dw: torch.Tensor | None, sums: torch.Tensor) -> tuple[bool, bool]:
    """``forward_saved`` with the integer-alpha window state in place of ``jac`` (where it
    serves: ``int_state_alpha`` and ``_dispatch._NativeCall.int_state``): ``sums`` (float64,
    ``2 N C`` times the outputs per plane) gets each window's ``S = sum x^alpha`` and then
    each window's ``y`` in double, in the output's layout; no dy/dx per element is kept. The
    backward (``backward_saved_int``) forms ``dy/dx = k1 x^alpha - k2 x^(alpha-1)`` from the
    input and these. ``dw`` (each window's dy/dalpha) is float64, or float32 (where windows
    share elements, for the peak's bound: ``_dispatch._int_overlap_state_fits``; a dy/dalpha
    that float32 does not hold, as the overlap state's, makes the state unusable). Returns
    ``(bad, usable)`` as ``forward_saved``."""
    code = (_lib or load()).ppv_forward_saved_int(plan, x.data_ptr(), param.data_ptr(),
                                                  out.data_ptr(),
                                                  dw.data_ptr() if dw is not None else None,
                                                  sums.data_ptr(), _dw_float(dw),
                                                  torch.get_num_threads())
    if not code:
        return False, True
    return status(code), not code & (_UNSAVED | 1)


def _dw_float(dw: torch.Tensor | None) -> int:
    """The integer-alpha window state's dy/dalpha buffer: 1 for float32, 0 for float64 (or
    none); any other dtype is a caller's error."""
    if dw is None or dw.dtype == torch.float64:
        return 0
    if dw.dtype != torch.float32:
        raise TypeError(f"dy/dalpha buffer of dtype {dw.dtype}: float64 or float32 expected")
    return 1


def backward_saved_int(plan: int, x: torch.Tensor, param: torch.Tensor, sums: torch.Tensor,
                       dw: torch.Tensor | None, grad_out: torch.Tensor, grad_in: torch.Tensor,
                       param_shape: torch.Size) -> torch.Tensor | None:
    """``backward`` from ``forward_saved_int``'s state for the same plan, ``x`` and ``param``:
    ``grad_in`` (a new tensor in x's dtype and format) gets ``grad_out[window] * dy/dx``;
    returns the parameter gradient as ``backward_saved`` does (``dw`` given), else None."""
    dparam = None if dw is None else torch.empty(param_shape, dtype=torch.float64)
    code = (_lib or load()).ppv_backward_saved_int(
        plan, x.data_ptr(), param.data_ptr(), sums.data_ptr(),
        None if dw is None else dw.data_ptr(), grad_out.data_ptr(), grad_in.data_ptr(),
        None if dparam is None else dparam.data_ptr(), _dw_float(dw), torch.get_num_threads())
    if code:
        status(code)
    return dparam


def saves_overlap(op: str, dtype: torch.dtype) -> bool:
    """Whether ``forward_overlap_saved`` serves ``op`` and ``dtype``: P-pooling in every
    dtype (the fast engine's float32, bfloat16, float16 and the exact engine's float64)."""
    return op == "ppool" and dtype in (torch.float32, torch.bfloat16, torch.float16,
                                       torch.float64)


def plan_window_mean(plan) -> float:
    """The mean number of elements in a window of ``plan`` (``make_plan``'s array): the
    product over the axes of each axis's mean window length."""
    mean = 1.0
    for _, n_out, total in _axis_window_totals(plan):
        mean *= total / max(n_out, 1)
    return mean


def _overlap_groups(plan) -> int:
    """Groups of 8 planes of ``plan``: consecutive planes, the last group padded, or
    (channels-last memory of a multiple of 8 channels) 8 consecutive channels of one batch
    entry. Channels-last memory of other channel counts groups consecutive planes, as
    contiguous memory does (``Plan::packed`` in ppool_kernel.cpp)."""
    n, c, channels_last = int(plan[3]), int(plan[4]), bool(plan[2])
    return n * -(-c // 8) if channels_last and c % 8 == 0 else -(-(n * c) // 8)


def overlap_state_size(plan) -> int:
    """Floats of ``forward_overlap_saved``'s ``dw``: 8 lanes per output position and group of
    8 planes (``_overlap_groups``)."""
    return _overlap_groups(plan) * 8 * int(plan[10]) * int(plan[11]) * int(plan[12])


def overlap_weights_size(plan) -> int:
    """Elements of ``forward_overlap_saved``'s ``weights``: 8 lanes per input position and
    group of 8 planes (``_overlap_groups``)."""
    return _overlap_groups(plan) * 8 * int(plan[7]) * int(plan[8]) * int(plan[9])


def overlap_weights_dtype(dtype: torch.dtype) -> torch.dtype:
    """The dtype of ``forward_overlap_saved``'s ``weights`` for inputs of ``dtype``: float32
    for float32; bfloat16 for bfloat16 and float16 (relative error 2^-9, which their
    gradients' bounds allow; half the memory); float64 for float64 (the exact engine's own
    ``x^alpha``)."""
    if dtype == torch.float64:
        return torch.float64
    return torch.float32 if dtype == torch.float32 else torch.bfloat16


def overlap_dw_dtype(dtype: torch.dtype) -> torch.dtype:
    """The dtype of ``forward_overlap_saved``'s per-window dy/dalpha: float32 (the fast
    engine's dtypes), float64 for float64 inputs."""
    return torch.float64 if dtype == torch.float64 else torch.float32


def overlap_ref_size(plan, dtype: torch.dtype) -> int:
    """Doubles of ``forward_overlap_saved``'s ``ref``: one per plane ``(n, c)`` (the weights'
    reference ``Lc``), or for float64 two and a half per window and lane (``S`` and ``y`` as
    doubles, then ``y``'s low part relative to ``y`` as a float32)."""
    if dtype == torch.float64:
        n = overlap_state_size(plan)
        return 2 * n + (n + 1) // 2
    return int(plan[3]) * int(plan[4])


def forward_overlap_saved(plan: int, x: torch.Tensor, param: torch.Tensor, out: torch.Tensor,
                          weights: torch.Tensor, dw: torch.Tensor | None,
                          ref: torch.Tensor) -> tuple[bool, bool]:
    """``forward``, and the state of a backward that takes no logarithm or exponential, for
    windows that share elements (P-pooling, float32 / bfloat16 / float16): ``weights``
    (``overlap_weights_dtype(x.dtype)``, ``overlap_weights_size(plan)``, the kernel's
    lane-interleaved order) gets each element's weight ``E = exp(alpha (ln x - Lc))``
    rounded to that dtype (relative error <= 2^-24 in float32, 2^-9 in bfloat16; -1 where it
    holds no normal ``E``: the backward weighs that element again),
    ``dw`` (float32, ``overlap_state_size(plan)``; None: the parameter's gradient is not
    wanted) each window's dy/dalpha, ``ref`` (float64, one per plane ``(n, c)``,
    ``n * C + c``) each plane's reference ``Lc``. Returns ``(bad, usable)`` as
    ``forward_saved``: ``usable`` is False where a window went to the exact engine (weights
    that underflow, zeros with ``alpha <= 0`` or ``alpha = 1``, ``|alpha| > 2^20``, a bad
    element), where a window's dy/dalpha is not a normal float32, or where the forward cut the
    planes into segments; the backward must then recompute.

    float64 (the exact engine): ``weights`` gets each element's ``x^alpha`` (float64, as the
    engine forms it), ``ref`` (``overlap_ref_size``) each window's ``S``, ``y`` and ``y``'s
    low part, ``dw`` (float64) each window's dy/dalpha (from the window pass's sums). A
    window the state does not serve (``|alpha| > 16`` or a span below 1/16: the per-window
    path; zeros at ``alpha <= 0`` or ``= 1``, a subnormal or bad element; a span beyond 2^500
    or a weight that may fall below 2^-900) is marked (``S = -1``) and evaluated again by the
    backward; ``usable`` is False where a plane is too large for the engine's element cache,
    where every plane's ``|alpha|`` is beyond 16 (nothing to serve), where a dy/dalpha is not
    representable well enough, or where the forward cut the planes into segments."""
    lib = _lib or load()
    entry = (lib.ppv_forward_overlap_saved64 if x.dtype == torch.float64
             else lib.ppv_forward_overlap_saved)
    code = entry(
        plan, x.data_ptr(), param.data_ptr(), out.data_ptr(), weights.data_ptr(),
        None if dw is None else dw.data_ptr(), ref.data_ptr(), torch.get_num_threads())
    if not code:
        return False, True
    return status(code), not code & (_UNSAVED | 1)


def backward_overlap_saved(plan: int, x: torch.Tensor, param: torch.Tensor,
                           weights: torch.Tensor, dw: torch.Tensor | None, ref: torch.Tensor,
                           grad_out: torch.Tensor, grad_in: torch.Tensor,
                           need_param: bool) -> torch.Tensor | None:
    """``backward`` from ``forward_overlap_saved``'s state for the same plan, ``x`` and
    ``param``: per window ``S = sum E`` and ``T = sum E x`` again from the stored weights,
    ``y = T / S``; ``P`` and ``Q`` the sums of ``grad_out / S`` and ``grad_out y / S`` over
    each element's windows; ``grad_in`` (x's dtype and format) ``= E ((1 + alpha) P -
    alpha Q / x)`` (float64: ``P`` and ``C = sum grad_out / S (x - y)`` over each element's
    windows from the saved ``S`` and ``y``, ``grad_in = x^alpha (P + alpha C / x)``);
    returns the parameter gradient (float64, ``param``'s shape;
    ``sum_w grad_out_w dw_w`` per plane) with ``need_param`` (which needs ``dw``), else
    None."""
    if need_param and dw is None:
        raise ValueError("backward_overlap_saved: need_param without the forward's dw")
    dparam = torch.empty(param.shape, dtype=torch.float64) if need_param else None
    lib = _lib or load()
    entry = (lib.ppv_backward_overlap_saved64 if x.dtype == torch.float64
             else lib.ppv_backward_overlap_saved)
    code = entry(
        plan, x.data_ptr(), param.data_ptr(), weights.data_ptr(),
        None if dw is None else dw.data_ptr(), ref.data_ptr(), grad_out.data_ptr(),
        grad_in.data_ptr(), None if dparam is None else dparam.data_ptr(),
        torch.get_num_threads())
    if code:
        status(code)
    return dparam


def saves_power_overlap(op: str, dtype: torch.dtype) -> bool:
    """Whether ``forward_power_overlap_saved`` serves ``op`` and ``dtype``: the power mean and
    the Lp norm on float32 and float64 inputs (its per-element state, ``E / x`` as a float32 or
    a float64, is the input's own size; for the half types it would be twice theirs)."""
    return op in ("powermean", "lp") and dtype in (torch.float32, torch.float64)


def forward_power_overlap_saved(plan: int, x: torch.Tensor, param: torch.Tensor,
                                out: torch.Tensor, jac: torch.Tensor, dw: torch.Tensor | None,
                                cw: torch.Tensor) -> tuple[bool, bool]:
    """``forward`` of the power mean or the Lp norm (float32, float64) and the state of a backward
    that recomputes nothing, for windows that may share elements: ``jac`` (float32, or
    float64 for a float64 ``x``; ``x``'s shape and memory format) gets each element's
    ``E / x`` rounded to it (``E`` the weight ``exp(p (ln x - Lc))``; float64: ``E / x`` times a
    power of two that ``y / S`` divides out; rows no window reads are not written), ``cw``
    (float64, ``out``'s shape and format) each window's ``y / S``, ``dw`` (float64,
    ``out``'s; None: not wanted) each window's dy/dp. Returns ``(bad, usable)`` as
    ``forward_saved``: ``usable`` is False where a window went to the exact engine (weights
    that underflow, ``|p| < 1/16``, a bad element; not a window of zeros alone, which it
    serves) or an ``E / x`` is not a normal float32 (nor 0); the backward must then
    recompute."""
    code = (_lib or load()).ppv_forward_power_overlap_saved(
        plan, x.data_ptr(), param.data_ptr(), out.data_ptr(), jac.data_ptr(),
        None if dw is None else dw.data_ptr(), cw.data_ptr(), torch.get_num_threads())
    if not code:
        return False, True
    return status(code), not code & (_UNSAVED | 1)


def backward_power_overlap_saved(plan: int, param: torch.Tensor, jac: torch.Tensor,
                                 cw: torch.Tensor, dw: torch.Tensor | None,
                                 grad_out: torch.Tensor, grad_in: torch.Tensor,
                                 need_param: bool) -> torch.Tensor | None:
    """``backward`` from ``forward_power_overlap_saved``'s state for the same plan and
    ``param``: ``grad_in`` (``x``'s dtype and format; it may be ``jac`` itself) ``= (E_i / x_i)
    sum_w grad_out_w (y / S)_w`` over each element's windows; returns the parameter gradient
    (float64, ``param``'s shape; ``sum_w grad_out_w dw_w`` per plane) with ``need_param``
    (which needs ``dw``), else None."""
    if need_param and dw is None:
        raise ValueError("backward_power_overlap_saved: need_param without the forward's dw")
    dparam = torch.empty(param.shape, dtype=torch.float64) if need_param else None
    code = (_lib or load()).ppv_backward_power_overlap_saved(
        plan, param.data_ptr(), jac.data_ptr(), cw.data_ptr(),
        None if dw is None else dw.data_ptr(), grad_out.data_ptr(), grad_in.data_ptr(),
        None if dparam is None else dparam.data_ptr(), torch.get_num_threads())
    if code:
        status(code)
    return dparam


def overlap_redone() -> int:
    """Row segments the overlap state's backward weighed again since the last call (a weight
    that float32 does not hold as a normal number; then reset). For tests."""
    return int((_lib or load()).ppv_overlap_redone())


def lean_windows64() -> int:
    """Windows (of 8 planes) that float64 forwards evaluated straight from their element cache
    (the kernel's forward_window64) since the last call (then reset). For tests."""
    return int((_lib or load()).ppv_lean_windows64())


def lean64(on: bool | None = None) -> bool:
    """Whether float64 forwards take their windows straight from the element cache
    (``forward_window64``); ``on`` sets it (False: the exact engine's per-window path for
    every window, whose bits the lean windows must give). Returns the previous setting. For
    tests."""
    return bool((_lib or load()).ppv_lean64(-1 if on is None else int(on)))


def backward(plan: int, x: torch.Tensor, param: torch.Tensor, grad_out: torch.Tensor,
             grad_in: torch.Tensor, need_param: bool = True) -> torch.Tensor | None:
    """Fill ``grad_in`` (x's dtype and format) with ``grad_out * dy/dx``; return the parameter
    gradient (float64, ``param``'s shape), summed with one power-of-two scaling per sum so that
    partial sums of huge or tiny magnitude neither overflow nor underflow early; None without
    ``need_param``."""
    dparam = torch.empty(param.shape, dtype=torch.float64) if need_param else None
    code = (_lib or load()).ppv_backward(plan, x.data_ptr(), param.data_ptr(),
                            grad_out.data_ptr(), grad_in.data_ptr(),
                            dparam.data_ptr() if need_param else None,
                            torch.get_num_threads())
    if code:
        status(code)
    return dparam


def segments(plan, threads: int, backward: bool = False) -> dict[str, int]:
    """How the kernel cuts the planes of a ``plan`` (``make_plan``'s array) for ``threads``
    threads: with fewer planes than SIMD lanes x threads, each plane is cut along its
    outermost axis with more than one output into segments that act as planes (``Segments``
    in ppool_kernel.cpp); P-pooling's plans also where a plane cut along W has more than
    4 x 1024 columns (``segment_cols``), the power mean's and Lp's where a plane has more than
    4 x 65536 elements or, cut along W, 4 x 1024 columns (``pow_segment_sizes``). Returns
    ``segments`` (of all planes; ``N C`` when not cut), ``classes`` (distinct segment plans),
    ``axis`` (0 D, 1 H, 2 W; -1: not cut) and ``threads``. ``backward``: P-pooling's
    recomputing backward's cut (float64's cuts planes of more than 2^15 elements for its fused
    backward). For tests and benchmarks."""
    import numpy as np

    out = np.zeros(4, dtype=np.int64)
    code = (_lib or load()).ppv_segments(plan.ctypes.data, threads, int(backward),
                                         out.ctypes.data)
    if code:
        status(code)
    return dict(zip(("segments", "classes", "axis", "threads"), (int(v) for v in out)))


def kernel_axis_windows(plan, axis: int):
    """``(starts, counts)`` of every output of axis ``axis`` of ``plan`` as the kernel reads
    them (``ppv_plan_axis``: a table's entries or a compact axis's computed windows). For
    tests."""
    import numpy as np

    n = int(plan[10 + axis])
    out = np.zeros(2 * n, dtype=np.int64)
    code = (_lib or load()).ppv_plan_axis(plan.ctypes.data, axis, out.ctypes.data)
    if code:
        status(code)
    return out[:n], out[n:]


def forward_sum_paths() -> dict[str, int]:
    """How the fast engine summed the windows of the forwards since the last call (the counts
    are then reset): ``together``, output rows whose windows' rows were summed in one pass
    (``sum_rows`` in ppool_kernel.cpp: at most 16 rows per window, one column chunk),
    ``each``, output rows summed row by row (``sum_row``), and ``weighing``, output rows of
    forwards and saving forwards whose sums were taken in their rows' weighing pass
    (``exp_sum_pass``: AVX-512 builds, W windows of step 1 that share no column, input rows
    read by one output row; the saving forward's rows are counted here alone). The backward is
    not counted (``backward_sum_paths``). For tests."""
    import numpy as np

    out = np.zeros(3, dtype=np.int64)
    (_lib or load()).ppv_forward_sum_paths(out.ctypes.data)
    return {"together": int(out[0]), "each": int(out[1]), "weighing": int(out[2])}


def direct_rows() -> int:
    """Output rows (one batch entry's ``(od, oh)``) of channels-last forwards whose windows
    were summed straight from memory since the last call (the count is then reset): an
    integer alpha of 0-4 for every plane, channels in whole groups of 8 (``cl_direct_forward``
    in ppool_kernel.cpp; AVX-512 builds and their AVX2 / NEON emulation, 0 in the one-lane
    forms). For tests."""
    return int((_lib or load()).ppv_direct_rows())


def direct_enable(on: bool | None = None) -> bool:
    """Whether the channels-last forward at an integer alpha sums windows straight from memory
    (``direct_rows``); ``on`` sets it (None: unchanged). Returns the previous setting (False
    in the one-lane forms, which have no such path). For tests, which compare it with the
    general path bit for bit."""
    return bool((_lib or load()).ppv_direct_enable(-1 if on is None else int(bool(on))))


def backward_sum_paths() -> dict[str, int]:
    """``forward_sum_paths`` for the fast engine's recomputing backwards (``ppv_backward``, the
    backward without a saved state): ``together``, output rows whose windows' rows were summed
    in one pass (``sum_rows``, with the logarithms' sums for dy/dalpha), ``each``, output rows
    summed row by row. The counts are then reset. For tests."""
    import numpy as np

    out = np.zeros(2, dtype=np.int64)
    (_lib or load()).ppv_backward_sum_paths(out.ctypes.data)
    return {"together": int(out[0]), "each": int(out[1])}


def weight_paths() -> dict[str, int]:
    """How the fast engine loaded its input rows and computed their weights since the last call
    (the counts are then reset): ``fused``, row segments whose loads were fused into the
    logarithms' pass (``load_weights_row`` in ppool_kernel.cpp: AVX-512 builds, groups of 8
    active planes, at least 8 columns), ``tail``, the same but for a contiguous row's last
    n % 8 columns (by the split path), and ``split``, row segments loaded by ``load_row`` then
    weighed by ``compute_row``; and ``integer``, of all these, the row segments whose weights
    E = x^alpha were formed by multiplication (every lane's alpha 0, 1, 2, 3 or 4 with no plane
    reference: no logarithm or exponential). Forwards and backwards are counted. For tests."""
    import numpy as np

    out = np.zeros(4, dtype=np.int64)
    (_lib or load()).ppv_weight_paths(out.ctypes.data)
    return {"fused": int(out[0]), "tail": int(out[1]), "split": int(out[2]),
            "integer": int(out[3])}


def special_windows() -> dict[str, int]:
    """The fast engine's special windows since the last call (one per plane; the counts are
    then reset): ``zero``, windows done in place: of zeros alone in a plane with a positive
    parameter (y = 0, dy/dx = 1 at each element, dy/dalpha = 0) or holding a zero with a
    negative one (y = 0, dy/dx only at a single zero), and ``exact``, the others, by the exact
    engine. Forwards and recomputing backwards are counted. For tests."""
    import numpy as np

    out = np.zeros(2, dtype=np.int64)
    (_lib or load()).ppv_special_windows(out.ctypes.data)
    return {"zero": int(out[0]), "exact": int(out[1])}


def saved_jac_paths() -> dict[str, int]:
    """How the saving forwards (``forward_saved``, float32 / bfloat16 / float16) since the last
    call wrote each output row's dy/dx (the counts are then reset): ``direct``, in one pass
    into the planes (``jac_store_row`` in ppool_kernel.cpp: AVX-512 builds, contiguous groups
    of 8 planes, no window of the row in the exact engine), and ``lanes``, through a
    lane-interleaved row (``jac_row``); and ``jac_store_row``'s blocks of 8 columns by its
    branch: ``positive_blocks`` (every x of the block positive and finite: no masks) and
    ``masked_blocks`` (zeros and the rest, per column); and ``streamed``, the ``direct`` rows
    stored by streaming stores (a state of more than ``jac_stream_bytes``). The power mean's
    and Lp's engine (``power_kernel.inc``) counts its own: ``power_direct``, output rows whose
    dy/dx ``pow_jac_store_row`` stored into the planes in one pass (the same conditions), and
    ``power_lanes``, those through a lane-interleaved row (``pow_jac_row``). For tests."""
    import numpy as np

    out = np.zeros(7, dtype=np.int64)
    (_lib or load()).ppv_saved_jac_paths(out.ctypes.data)
    return {"direct": int(out[0]), "lanes": int(out[1]), "positive_blocks": int(out[2]),
            "masked_blocks": int(out[3]), "streamed": int(out[4]), "power_direct": int(out[5]),
            "power_lanes": int(out[6])}


def jac_stream_bytes(nbytes: int = 0) -> int:
    """The size in bytes of a float32 dy/dx state (``forward_saved``) above which the kernel
    stores it by streaming stores (``jac_stream_bytes`` in ppool_kernel.cpp, 16 MiB: a state
    that large leaves the caches before the backward reads it); with ``nbytes`` > 0, set it
    (tests: small states streamed) and return the previous value."""
    return int((_lib or load()).ppv_jac_stream_bytes(nbytes))


def openmp() -> bool:
    """Whether the loaded kernel was built with OpenMP (a call runs on
    ``torch.get_num_threads()`` threads); False where the compiler had none (every call on one
    thread: see ``_fewer_flags``)."""
    return bool((_lib or load()).ppv_openmp())


def vector_isa() -> str:
    """Which vector code the loaded kernel runs: ``"avx512"`` (built on a CPU with AVX-512F),
    ``"avx2"`` (a CPU with AVX2 and FMA but no AVX-512: the same AVX-512 code, each 8-lane
    operation emulated on two 256-bit halves, ``simd8.inc``), ``"neon"`` (ARM64: that
    emulation, its AVX2 operations in turn on pairs of 128-bit NEON registers,
    ``avx2_neon.inc``) or ``"scalar"`` (none of these: the scalar forms, the same arithmetic one
    lane at a time, several times slower)."""
    return ("scalar", "avx2", "avx512", "neon")[int((_lib or load()).ppv_vector_isa())]


def pair_log_paths() -> dict[str, int]:
    """How the exact engine formed float64 windows' per-pair logarithms ln(x/R) since the last
    call (the counts are then reset), in windows of 8 lanes: ``old``, ``log_ratio_dd`` in
    every lane (an atanh series with two divisions), ``new``, ``ln_dd(x) - ln_dd(R)`` in every
    general lane (|alpha| <= 16 and a window spanning at least 1/16, see ``FASTLOG_MAX_A`` in
    ppool_kernel.cpp), ``mixed``, some lanes each way. Forwards, saving forwards and
    backwards are counted; the fast engine's special windows are not. ``ldexp_y``: lanes
    (not windows) whose y = q 2^e(R) took ldexp, R subnormal (exact_window's vector
    epilogue's scalar fallback). For tests."""
    import numpy as np

    out = np.zeros(4, dtype=np.int64)
    (_lib or load()).ppv_pair_log_paths(out.ctypes.data)
    return {"old": int(out[0]), "new": int(out[1]), "mixed": int(out[2]),
            "ldexp_y": int(out[3])}


def pair_log_elementary(name: str, *args):
    """The exact engine's new-path elementary functions on float64 arrays, for tests:
    ``("ln", x)`` gives ln_dd's (hi, lo), ``("exp", th, tl)`` exp_dd_tab's (e, e_lo). Whole
    blocks of 8 by the AVX-512 forms (on such builds), the rest by the one-double forms."""
    import numpy as np

    lib = _lib or load()
    arrays = [np.ascontiguousarray(a, dtype=np.float64) for a in args]
    n = arrays[0].size
    outs = (np.empty(n), np.empty(n))
    ptrs = [a.ctypes.data for a in arrays] + [o.ctypes.data for o in outs]
    if name == "ln":
        lib.ppv_ln_dd(ptrs[0], n, ptrs[1], ptrs[2])
    else:
        lib.ppv_exp_dd_tab(ptrs[0], ptrs[1], n, ptrs[2], ptrs[3])
    return outs


def saved_backward_paths() -> dict[str, int]:
    """How ``backward_saved`` since the last call formed each contiguous plane row's input
    gradient (the counts are then reset): ``runs``, one gy per run of a window's columns
    (``run_saved_backward`` in ppool_kernel.cpp, where the W axis has a whole-row table and
    its runs average 32 columns or more), ``spread``, one product with the runs' gy spread
    over the row (shorter runs), and ``gather``, a gather of gy per element (rows longer than
    that table allows); ``planes``, the planes of global windows, each one loop over its
    elements (no row counted then). Channels-last rows are counted in none. For tests."""
    import numpy as np

    out = np.zeros(4, dtype=np.int64)
    (_lib or load()).ppv_saved_backward_paths(out.ctypes.data)
    return {"runs": int(out[0]), "spread": int(out[1]), "gather": int(out[2]),
            "planes": int(out[3])}


def thread_groups(plan, threads: int) -> list[range]:
    """How the kernel shares the groups of 8 planes of a P-pooling ``plan`` among its threads
    for ``threads`` (``thread_groups`` in ppool_kernel.cpp): one ``range`` of group indices per
    thread it runs. Contiguous memory: every n-th group; channels-last: a contiguous block per
    thread, cut on whole cache lines of channels where the channels allow. For tests."""
    import numpy as np

    out = np.zeros(1 + 3 * max(threads, 1), dtype=np.int64)
    code = (_lib or load()).ppv_thread_groups(plan.ctypes.data, threads, out.ctypes.data)
    if code:
        status(code)
    return [range(*(int(v) for v in out[1 + 3 * t:4 + 3 * t])) for t in range(int(out[0]))]


def layout_paths() -> dict[str, int]:
    """Channels-last groups the P-pooling kernel processed since the last call (the counts are
    then reset): ``full``, groups of 8 channels (lanes) read and written by one converting
    vector load or store per pixel, ``partial``, the last group of ``C % 8`` channels
    (per-lane loops; since packed planes, none), ``packed``, groups of 8 planes ``(n, c)`` where
    the channels are not a multiple of the 8 lanes (each lane at its own base, per-lane loops:
    ``Plan::packed``), and
    ``later_bands``, calls of a group on a band of rows after its first
    (the forwards and the overlap state's backward sweep a channels-last plane in bands, all of
    a batch entry's groups band by band: ``cl_band_bytes``). Forwards, recomputing backwards
    and the overlap state's backward are counted. For tests."""
    import numpy as np

    out = np.zeros(4, dtype=np.int64)
    (_lib or load()).ppv_layout_paths(out.ctypes.data)
    return {"full": int(out[0]), "partial": int(out[1]), "later_bands": int(out[2]),
            "packed": int(out[3])}


def cl_band_bytes(nbytes: int = 0) -> int:
    """The bytes of input rows per band of a channels-last sweep (``CL_BAND_BYTES`` in
    ppool_kernel.cpp, 384 KiB: a band's lines stay in L2 while each group of the batch entry
    reads them); with ``nbytes`` > 0, set it (tests: small inputs in several bands) and return
    the previous value."""
    return int((_lib or load()).ppv_cl_band_bytes(nbytes))


def cache_bytes(nbytes: int = 0) -> int:
    """P-pooling's (the fast engine's) row cache per thread in bytes (``CACHE_BYTES`` in
    ppool_kernel.cpp, 12 MiB). With ``nbytes`` > 0, set it (tests: a plane whose rows it does
    not hold, on inputs the oracle evaluates quickly) and return the previous value."""
    return int((_lib or load()).ppv_cache_bytes(nbytes))


def pow_ucomp_terms(terms: int = 0) -> int:
    """The power engine's float32 / bfloat16 / float16 threshold for summing dy/dp's U
    compensated: lane sums of at least this many terms (default 2**17; a lane slice's share of
    a plane). ``terms > 0`` sets it and returns the previous value; 0 returns the current one.
    For tests (the compensated form on windows the oracle evaluates quickly)."""
    return int((_lib or load()).ppv_pow_ucomp_terms(terms))


def pow_cache_bytes(nbytes: int = 0) -> int:
    """The power mean's and Lp's row cache per thread in bytes (``POW_CACHE_BYTES`` in
    power_kernel.inc, 12 MiB; at least one row): a window's span of rows, or the whole plane
    for a backward, within it. With ``nbytes`` > 0, set it (tests: fewer slots than a window's
    rows) and return the previous value."""
    return int((_lib or load()).ppv_pow_cache_bytes(nbytes))


def segment_grain(elements: int = 0) -> int:
    """The input elements of a forward's work per thread of a segmented call
    (``SEG_THREAD_ELEMENTS``, 2**13; a recomputing backward counts its elements twice); with
    ``elements`` > 0, set it (tests: small inputs on several threads) and return the previous
    value."""
    return int((_lib or load()).ppv_segment_grain(elements))


def thread_pairs(pairs: int = 0) -> int:
    """The window-element pairs of a forward's work per thread of a call not cut into
    segments (``THREAD_PAIRS``, 2**14: a forward of fewer than twice that runs on one thread;
    a recomputing backward counts its pairs twice, a backward from a disjoint state a quarter:
    ``WORK_*`` in ppool_kernel.cpp); with ``pairs`` > 0, set it (benchmarks:
    ``tests.thread_grain_timing`` compares grains in one process) and return the previous
    value."""
    return int((_lib or load()).ppv_thread_pairs(pairs))


def segment_cols(columns: int = 0) -> int:
    """P-pooling's most columns of a segment where a plane is cut along W (``SEG_COLS``,
    1024): a 1-D signal (or planes of one row) is cut, whatever the number of planes, into
    segments of that many columns or fewer where the threads' scratch would exceed 8 bytes per
    input element (at least 256: ``scratch_bounded_cols``) wherever it holds more than 4 such
    segments. With ``columns`` > 0, set it (tests: short signals cut for their length) and
    return the previous value."""
    return int((_lib or load()).ppv_segment_cols(columns))


def pow_segment_sizes(elements: int = 0, columns: int = 0) -> tuple[int, int]:
    """The power mean's and Lp's segment sizes (``POW_SEG_ELEMENTS`` 2**16 and ``POW_SEG_COLS``
    1024 in power_kernel.inc): a plane of more than 4 x that many input elements (columns,
    where it is cut along W) is cut into segments of about that size whatever the number of
    planes (along W at most that many columns, fewer for short signals: ``segment_cols``).
    With values > 0, set them (tests: small planes cut for their size) and return the
    previous ``(elements, columns)``."""
    import numpy as np

    out = np.zeros(2, dtype=np.int64)
    (_lib or load()).ppv_pow_segment_sizes(elements, columns, out.ctypes.data)
    return int(out[0]), int(out[1])


def pow_dp_passes() -> int:
    """The power engine's output rows whose dy/dp took a second pass over their windows'
    elements (``pow_dp_rows``: some window where the closed form from the window sums,
    ``pow_dp_fast``, is not accurate enough) since the last call (then reset). For tests."""
    return int((_lib or load()).ppv_pow_dp_passes())


def lane_slices() -> dict[str, int]:
    """The kernel's lane slices since the last call (then reset; P-pooling's and the power
    engine's): ``sliced``, planes whose global window ran as lane slices (``xlane_serves`` in
    ppool_kernel.cpp), and ``redone``, calls run again without slices (a window the exact
    engine evaluates). For tests."""
    import numpy as np

    out = np.zeros(2, dtype=np.int64)
    (_lib or load()).ppv_lane_slices(out.ctypes.data)
    return {"sliced": int(out[0]), "redone": int(out[1])}


def lane_slice_parts() -> dict[str, int]:
    """The power engine's lane slices in parts since the last call (then reset): ``units``,
    the parts run (planes x parts per plane; a plane's slices cut into parts of rows, each
    part a unit of work of its own: ``XParts`` in power_kernel.inc, for planes that do not
    share out evenly among the threads, one plane on two), and ``redone``, calls run again
    with whole slices (dy/dp wanting a second pass over the window's elements). For tests."""
    import numpy as np

    out = np.zeros(2, dtype=np.int64)
    (_lib or load()).ppv_lane_slice_parts(out.ctypes.data)
    return {"units": int(out[0]), "redone": int(out[1])}


def xpart_kept_rows() -> int:
    """Input rows whose dy/dx a saving forward of a global window formed from the weights its
    first step (lane slices in parts: global pooling of few planes) or first pass (a plane
    whose rows the row cache does not hold) kept in the state, instead of weighing the row
    again, since the last call (then reset). For tests."""
    return int((_lib or load()).ppv_xpart_kept_rows())
