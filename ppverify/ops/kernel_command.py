"""Build (if needed) and describe the compiled CPU kernel of ppverify.ops.

The ops compile their C++ kernel on first use, for this machine's CPU (about a minute on one
core; in parts, side by side, where there are more), and keep it in a cache. Run this once
where a first call must not wait (a container image, a cluster's shared environment before the
jobs start): it builds the kernel if the cache lacks it, checks that it loads and answers its
handshake, and says what it is.

Printed: the kernel file, whether it was compiled now (and in how long) or found in the cache,
the vector code it runs on this CPU (avx512, avx2, neon or scalar: see
ppverify.ops.native_vector_code), whether it has OpenMP threads, the compiler flags of its
build, how it was compiled (one unit, or in parts with several compilers at once) and anything
the loader had to do (a corrupt cached file rebuilt, an unusable cache directory). Where the
kernel is not available (no C++ compiler, a failed build, PPVERIFY_NATIVE=0) it says why: the
ops then run their pure-torch path, several times slower.

Environment (read at import):
  PPVERIFY_CACHE   the cache directory (default ~/.cache/ppverify)
  PPVERIFY_MARCH   build for this CPU instead of -march=native / -mcpu=native (for a cache
                   shared by machines whose CPUs differ), e.g. x86-64-v3
  PPVERIFY_NATIVE  0: never use the kernel
  PPVERIFY_BUILD_JOBS  compilers a build runs at once (read when it starts; default: the CPUs
                   this process may use, at most 5); 1 compiles the kernel as one unit
  CXX              the C++ compiler (default g++, else c++ or clang++)

Exit status: 0 when the kernel is available, 1 when it is not.

  ppverify kernel            # build if needed, then describe
  ppverify kernel --json     # the same as one JSON object"""

from __future__ import annotations

import argparse
import json
import time

from . import _native


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print one JSON object instead of lines")


def describe() -> dict:
    """Load the kernel (building it if needed) and what is known about it."""
    started = time.perf_counter()
    available = _native.available()
    info: dict = {
        "available": available,
        "seconds": round(time.perf_counter() - started, 3),
        "compiled_now": _native.build_seconds is not None,
        "build_seconds": None if _native.build_seconds is None
        else round(_native.build_seconds, 1),
        "file": str(_native.library_file) if _native.library_file else None,
        "cache": str(_native.cache_dir()),
        "events": list(_native.events),
    }
    if not available:
        info["reason"] = _native.build_error
        return info
    lib = _native.load()
    manifest = json.loads(_native._manifest_path(_native.library_file).read_text())
    info.update(vector_code=_native.vector_isa(), openmp=bool(lib.ppv_openmp()),
                flags=manifest.get("flags"), built_without=manifest.get("without") or [],
                parts=manifest.get("parts", 1), build_jobs=manifest.get("jobs", 1))
    return info


def run(args: argparse.Namespace) -> int:
    info = describe()
    if args.json:
        print(json.dumps(info, indent=2))
        return 0 if info["available"] else 1
    if not info["available"]:
        print(f"the compiled kernel is not available: {info['reason']}\n"
              f"ppverify.ops runs its pure-torch path instead (several times slower)")
        return 1
    how = (f"compiled now, in {info['build_seconds']} s" if info["compiled_now"]
           else "found in the cache")
    print(f"kernel: {info['file']} ({how})")
    print(f"vector code: {info['vector_code']}; OpenMP threads: "
          f"{'yes' if info['openmp'] else 'no (every call runs on one thread)'}")
    print(f"flags: {' '.join(info['flags'] or [])}")
    print("compiled as one unit" if info["parts"] == 1 else
          f"compiled in {info['parts']} parts, {info['build_jobs']} at once, then linked")
    if info["built_without"]:
        print(f"built without: {', '.join(info['built_without'])} (the compiler lacks them)")
    for event in info["events"]:
        print(f"note: {event}")
    return 0
