"""simd8.inc's AVX2 emulation of the AVX-512 intrinsics, held against Intel's definitions.

``ppverify/ops/simd8.inc`` lets the kernel's AVX-512 code compile on CPUs with AVX2 and FMA but
no AVX-512: ``__m512d`` / ``__m512i`` become pairs of 256-bit registers, ``__mmask8`` a pair of
lane masks (``ppv_mmask8``), and each ``_mm512_*`` the kernel uses a function with Intel's
semantics. ``tests/ops/simd8_harness.cpp`` states each of those intrinsics again, lane by lane, as
scalar C++ from the Intel Intrinsics Guide's pseudo-code (written independently of simd8.inc),
and compares, bit for bit, on random doubles over every binade and the special values (+-0,
+-inf, NaNs with payloads, subnormals, the normal range's ends; for the integer forms the ends,
integers next to 2^52 / 2^53 / 2^63 and ties of the rounding to double), all 32 ``_CMP_*``
predicates, every mask, 27 shift counts from 0 to 255 (the kernel's 48 and 52 among them), 16
shuffle immediates (the kernel's 0x44 and 0xee among them; each selector takes each value).
Also the ``ppv_mmask8`` operators (&, |, ~, &=, |=, ==, !=, the conversions), and fast_math.inc's
table look-ups ``fast_log_tables8`` / ``fast_table8`` / ``fast_table8_pd`` (per-lane loads on
the emulation). ``_mm512_rcp14_pd``'s stand-in is documented as the correctly rounded 1 / x and
is held to that.

Where the reference is an IEEE operation whose NaN result is "a QNaN of an operand" (add, mul,
fma, the conversions, ...), two NaNs with different payloads are accepted (the compiler may order
a commutative reference's operands either way); everything else, NaNs' payloads and zeros' signs
included, must be the same bits.

The harness is compiled with the kernel's compiler and flags, ``-march=native`` replaced by
``-march=x86-64-v3`` (AVX2 + FMA, no AVX-512), so the emulation is what is tested on every
x86-64-v3 machine, AVX-512 ones included; it skips where no compiler is found or the CPU could
not run such a binary. A copy of the sources with 13 deliberate defects (``DEFECTS``, each in
one function) is compiled too, and each must be reported (the checks can fail), while
intrinsics no defect touches stay clean. On a machine with
AVX-512 the harness is also compiled with the kernel's own flags (the real instructions): the
same references must hold there and every result must have the same bits as the emulation's
(``_mm512_rcp14_pd`` aside: the instruction is a 14-bit estimate, held to Intel's 2^-14 bound).

On ARM64 the same emulation stands on ``avx2_neon.inc`` (AVX2's intrinsics in NEON). Where a
cross compiler and qemu's user mode are installed (Debian / Ubuntu: ``apt install
g++-aarch64-linux-gnu qemu-user``; CI has neither, and skips), the harness is built for ARM64
(armv8-a) and run under ``qemu-aarch64``: every reference must hold there and every result must
have the bits of the x86-64-v3 emulation's (the hashes; rcp14 included, both being the correctly
rounded 1 / x); a copy with ``NEON_DEFECTS`` planted in avx2_neon.inc must report each.
"""

from __future__ import annotations

import ctypes
import platform
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from ppverify.ops import _native

HARNESS = Path(__file__).with_name("simd8_harness.cpp")
OPS = _native.SOURCE.parent
SIMD8 = OPS / "simd8.inc"
FAST_MATH = OPS / "fast_math.inc"
AVX2_NEON = OPS / "avx2_neon.inc"
ARM64_SYSROOT = "/usr/aarch64-linux-gnu"  # Debian's g++-aarch64-linux-gnu
# what x86-64-v3 lets the compiler use (as /proc/cpuinfo names it), beyond x86-64's baseline
V3_CPU_FLAGS = {"avx", "avx2", "fma", "bmi1", "bmi2", "f16c", "movbe"}
MASK_OPERATORS = ["from int", "operator(unsigned)", "operator(bool)", "operator&",
                  "operator|", "operator~", "operator&=", "operator|=", "operator==",
                  "operator!="]
FAST_MATH_LOOKUPS = ["fast_log_tables8", "fast_table8", "fast_table8_pd"]


def emulated_names() -> list[str]:
    """The names simd8.inc maps (its macro list): types and ``_mm512_*`` intrinsics."""
    text = SIMD8.read_text()
    start = text.index("// the kernel's AVX-512 names")
    block = text[start:text.index("#else", start)]
    names = re.findall(r"^#define (\w+)", block, flags=re.M)
    assert len(names) > 40, "simd8.inc's macro list was not found"
    return names


def required_records(name: str) -> list[str]:
    """The harness records that must exist (and be clean) for one of simd8.inc's names."""
    if name == "__mmask8":
        return [f"__mmask8 {op}" for op in MASK_OPERATORS]
    if name in ("__m512d", "__m512i"):
        return [f"{name} layout"]
    return [name]


@dataclass
class Record:
    """One line of the harness's report (see simd8_harness.cpp's header)."""

    name: str
    cases: int
    bad: int
    lenient: int
    hash: str
    first: str


@dataclass
class Harness:
    """A compiled harness's results: ``emulated`` (simd8.inc's forms or the real AVX-512)."""

    emulated: bool
    records: dict[str, Record]

    def matching(self, name: str) -> list[Record]:
        """The records of an intrinsic: its own and its variants' (``name/...``)."""
        return [r for n, r in self.records.items() if n == name or n.startswith(name + "/")]


def _x86_64_v3_reason() -> str | None:
    """Why an x86-64-v3 binary cannot run here (None where it can)."""
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return f"not an x86-64 machine ({platform.machine()}): the emulation is x86 code"
    missing = V3_CPU_FLAGS - _native.cpu_flag_set()
    if missing:
        return f"this CPU lacks {sorted(missing)} (from /proc/cpuinfo): no x86-64-v3 binary runs"
    return None


def _compile_command(compiler: str, march: str, include: Path, out: Path,
                     quick: bool = False) -> list[str]:
    """The kernel's flags with -march=<march>; ``quick``: the harness's smaller build (the
    kernel's predicates, a few shift counts and shuffle immediates), for the planted defects."""
    flags = [f"-march={march}" if f.startswith("-march=") else f for f in _native.FLAGS]
    assert f"-march={march}" in flags, _native.FLAGS
    return [compiler, *flags, "-Wno-psabi", *(["-DPPV_SIMD8_QUICK"] if quick else []),
            f"-I{include}", str(HARNESS), "-o", str(out)]


def _records(report: str) -> dict[str, Record]:
    records = {}
    for line in report.splitlines():
        name, cases, bad, lenient, digest, first = line.split("\t")
        records[name] = Record(name, int(cases), int(bad), int(lenient), digest, first)
    return records


def _load(lib: Path) -> Harness:
    dll = ctypes.CDLL(str(lib))
    dll.ppv_simd8_check.restype = ctypes.c_longlong
    dll.ppv_simd8_check.argtypes = [ctypes.c_char_p, ctypes.c_longlong]
    buf = ctypes.create_string_buffer(1 << 20)
    n = dll.ppv_simd8_check(buf, len(buf))
    assert n > 0, f"the harness's report needs {-n} bytes"
    return Harness(bool(dll.ppv_simd8_emulated()), _records(buf.value.decode()))


# ------------------------------------------------------------------------ planted defects
# (file, old text, new text) edits, and the record each defect must show up in. All are applied
# to one copy (one compile); each touches one function, and each record named depends on
# that function only.
DEFECTS = {
    "blend operands swapped": (
        [("simd8.inc",
          "return {_mm256_blendv_pd(a.lo, b.lo, k.lo), _mm256_blendv_pd(a.hi, b.hi, k.hi)};",
          "return {_mm256_blendv_pd(b.lo, a.lo, k.lo), _mm256_blendv_pd(b.hi, a.hi, k.hi)};")],
        "_mm512_mask_blend_pd"),
    "srai without its sign extension": (
        [("simd8.inc",
          "return _mm256_sub_epi64(_mm256_xor_si256(_mm256_srli_epi64(a, n), m), m);",
          "(void)m; return _mm256_srli_epi64(a, n);")],
        "_mm512_srai_epi64"),
    "unpacklo takes the high halves": (
        [("simd8.inc", "PPV_EMU_PD2(unpacklo_pd, _mm256_unpacklo_pd)",
          "PPV_EMU_PD2(unpacklo_pd, _mm256_unpackhi_pd)")],
        "_mm512_unpacklo_pd"),
    "min's operands swapped (differs only on NaNs and zeros)": (
        [("simd8.inc", "#define PPV_EMU_PD2(name, op)",
          "static inline __m256d ppv_min_swapped(__m256d a, __m256d b) {"
          " return _mm256_min_pd(b, a); }\n#define PPV_EMU_PD2(name, op)"),
         ("simd8.inc", "PPV_EMU_PD2(min_pd, _mm256_min_pd)",
          "PPV_EMU_PD2(min_pd, ppv_min_swapped)")],
        "_mm512_min_pd"),
    "cvtepi64_pd by the 2^52 trick alone (exact for |x| < 2^51 only)": (
        [("simd8.inc", "return _mm256_add_pd(hi, _mm256_castsi256_pd(lo32));",
          "(void)hi; (void)lo32; return _mm256_sub_pd(_mm256_castsi256_pd(_mm256_add_epi64("
          "v, _mm256_set1_epi64x(0x4338000000000000LL))), _mm256_set1_pd(0x1.8p52));")],
        "_mm512_cvtepi64_pd"),
    "_CMP_NLT_UQ taken as _CMP_GE_OQ (differs only on NaNs)": (
        [("simd8.inc",
          "return {_mm256_cmp_pd(a.lo, b.lo, P), _mm256_cmp_pd(a.hi, b.hi, P)};",
          "constexpr int Q = P == _CMP_NLT_UQ ? _CMP_GE_OQ : P;\n"
          "  return {_mm256_cmp_pd(a.lo, b.lo, Q), _mm256_cmp_pd(a.hi, b.hi, Q)};")],
        "_mm512_cmp_pd_mask/_CMP_NLT_UQ"),
    "mask & ignores lanes 4-7": (
        [("simd8.inc", "return {_mm256_and_pd(lo, o.lo), _mm256_and_pd(hi, o.hi)};",
          "return {_mm256_and_pd(lo, o.lo), hi};")],
        "__mmask8 operator&"),
    "permutex2var reads index bit 4 for bit 3": (
        [("simd8.inc", "_mm256_slli_epi64(ix, 60)", "_mm256_slli_epi64(ix, 59)")],
        "_mm512_permutex2var_pd"),
    "shuffle_f64x2's first two selectors swapped": (
        [("simd8.inc", "constexpr int lo = (IMM & 3) | (((IMM >> 2) & 3) << 4);",
          "constexpr int lo = ((IMM >> 2) & 3) | ((IMM & 3) << 4);")],
        "_mm512_shuffle_f64x2/0x44"),
    "test_epi64_mask not inverted": (
        [("simd8.inc", "return ~ppv_mask_of_i(lo, hi);", "return ppv_mask_of_i(lo, hi);")],
        "_mm512_test_epi64_mask"),
    "fast_table8_pd's lanes 6 and 7 exchanged": (
        [("fast_math.inc",
          "_mm256_setr_pd(t[idx.v[4]], t[idx.v[5]], t[idx.v[6]], t[idx.v[7]])",
          "_mm256_setr_pd(t[idx.v[4]], t[idx.v[5]], t[idx.v[7]], t[idx.v[6]])")],
        "fast_table8_pd"),
    "fast_log_tables8's logc_lo from the rows' padding": (
        [("fast_math.inc", "_mm256_permute2f128_pd(ab0, cd0, 0x31);",
          "_mm256_permute2f128_pd(ab1, cd1, 0x31);")],
        "fast_log_tables8"),
    "fast_table8's high lanes one index off": (
        [("fast_math.inc", "fast_pick4(t, idx.v + 4)", "fast_pick4(t, idx.v + 3)")],
        "fast_table8"),
}
# records no defect touches: they must stay clean in the planted build
UNTOUCHED = ["_mm512_add_pd", "_mm512_fmadd_pd", "_mm512_max_pd", "_mm512_unpackhi_pd",
             "_mm512_srli_epi64", "_mm512_cvtps_pd", "_mm512_cmp_pd_mask/_CMP_GE_OQ",
             "__mmask8 operator|", "_mm512_and_si512", "_mm512_cvtpd_ps"]


def _planted_sources(directory: Path) -> Path:
    texts = {"simd8.inc": SIMD8.read_text(), "fast_math.inc": FAST_MATH.read_text()}
    for edits, _ in DEFECTS.values():
        for file, old, new in edits:
            assert texts[file].count(old) == 1, f"{file} no longer holds {old!r} once"
            texts[file] = texts[file].replace(old, new)
    for file, text in texts.items():
        (directory / file).write_text(text)
    return directory


@pytest.fixture(scope="module")
def builds(tmp_path_factory):
    """The emulated harness and the planted one, compiled at once (two processes)."""
    compiler = _native._compiler()
    if compiler is None or shutil.which(compiler) is None:
        pytest.skip("no C++ compiler")
    reason = _x86_64_v3_reason()
    if reason:
        pytest.skip(reason)
    root = tmp_path_factory.mktemp("simd8")
    (root / "planted").mkdir()
    planted = _planted_sources(root / "planted")
    jobs = {"emulated": _compile_command(compiler, "x86-64-v3", OPS, root / "emulated.so"),
            "planted": _compile_command(compiler, "x86-64-v3", planted, root / "planted.so",
                                        quick=True)}
    procs = {k: subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for k, cmd in jobs.items()}
    libs = {}
    for k, proc in procs.items():
        _, err = proc.communicate(timeout=300)
        if proc.returncode != 0 and re.search(r"bad value|unknown target CPU|invalid.*march",
                                              err):
            pytest.skip(f"{compiler} does not know -march=x86-64-v3: {err.strip()[:200]}")
        assert proc.returncode == 0, f"compiling the {k} harness failed:\n{err[-3000:]}"
        libs[k] = root / f"{k}.so"
    return {k: _load(lib) for k, lib in libs.items()}


@pytest.fixture(scope="module")
def emulated(builds) -> Harness:
    assert builds["emulated"].emulated, "the x86-64-v3 build did not take simd8.inc's forms"
    return builds["emulated"]


def _describe(records: list[Record]) -> str:
    return "; ".join(f"{r.name}: {r.bad} of {r.cases} lanes differ, first: {r.first}"
                     for r in records if r.bad)


@pytest.mark.parametrize("name", [*emulated_names(), *FAST_MATH_LOOKUPS])
def test_the_emulated_intrinsic_is_intels(emulated, name):
    """Each of simd8.inc's names (and fast_math.inc's look-ups) was exercised, and gave
    Intel's results lane for lane."""
    for required in required_records(name):
        records = emulated.matching(required)
        assert records, f"the harness does not check {required} (add it to simd8_harness.cpp)"
        for r in records:
            assert r.cases > 0, f"{r.name}: no case was run"
        assert not any(r.bad for r in records), _describe(records)


def test_every_check_of_the_harness_passes(emulated):
    """The records beyond the names' own (the masks of one intrinsic feeding another,
    PPV_KEEP8) too; and none was left without cases."""
    assert len(emulated.records) > 100
    assert all(r.cases > 0 for r in emulated.records.values())
    assert not any(r.bad for r in emulated.records.values()), _describe(
        list(emulated.records.values()))


def test_the_kernels_predicates_and_immediates_are_checked(emulated):
    """Every ``_CMP_*`` predicate and ``_mm512_shuffle_f64x2`` immediate the kernel's sources
    use is among those the harness holds (for the predicates, also with the comparison's mask
    fed to the masked operations: the harness's KERNEL_PREDICATES)."""
    # (avx2_neon.inc defines every predicate's name; it uses none)
    sources = "".join(p.read_text() for p in sorted(OPS.glob("*.inc")) + [_native.SOURCE]
                      if p != AVX2_NEON)
    predicates = set(re.findall(r"\b_CMP_\w+", sources))
    immediates = set(re.findall(r"_mm512_shuffle_f64x2\([^;]*?,\s*(0x[0-9a-fA-F]+)\)", sources))
    assert {"_CMP_GT_OQ", "_CMP_GE_OQ"} <= predicates and {"0x44", "0xee"} <= immediates
    for p in predicates:
        assert emulated.matching(f"_mm512_cmp_pd_mask/{p}"), p
        assert emulated.matching(f"_mm512_mask_cmp_pd_mask/{p}"), p
        assert emulated.matching(f"_mm512_maskz_mov_pd/k from _mm512_cmp_pd_mask/{p}"), p
    for imm in immediates:
        assert emulated.matching(f"_mm512_shuffle_f64x2/0x{int(imm, 16):02x}"), imm


@pytest.mark.parametrize("defect", list(DEFECTS))
def test_a_planted_defect_is_caught(builds, defect):
    """The checks can fail: each deliberate defect in a copy of the sources is reported by the
    intrinsic it breaks."""
    planted = builds["planted"]
    record = DEFECTS[defect][1]
    assert planted.records[record].cases > 0
    assert planted.records[record].bad > 0, f"{defect}: not caught by {record}"


def test_the_planted_defects_stay_where_they_were_planted(builds):
    planted = builds["planted"]
    for name in UNTOUCHED:
        assert planted.records[name].bad == 0, _describe([planted.records[name]])


def test_native_avx512_gives_the_emulations_bits(builds, tmp_path):
    """On an AVX-512 machine: the real instructions (the kernel's own flags) meet the same
    references, and every result has the same bits as the emulation's (rcp14 aside)."""
    if "avx512f" not in _native.cpu_flag_set():
        pytest.skip("no AVX-512 on this CPU: only the emulation can run here")
    compiler = _native._compiler()
    lib = tmp_path / "native.so"
    cmd = [compiler, *_native.FLAGS, "-Wno-psabi", f"-I{OPS}", str(HARNESS), "-o", str(lib)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    native = _load(lib)
    assert not native.emulated, "the -march=native build took the emulation on an AVX-512 CPU"
    emulated = builds["emulated"]
    assert set(native.records) == set(emulated.records)
    assert not any(r.bad for r in native.records.values()), _describe(
        list(native.records.values()))
    differ = [n for n, r in native.records.items()
              if n != "_mm512_rcp14_pd" and r.hash != emulated.records[n].hash]
    assert not differ, f"results whose bits differ from the emulation's: {differ}"


# ------------------------------------------------------------------------ ARM64 (NEON)
# defects planted in avx2_neon.inc and fast_math.inc's ARM64 forms (one copy, one compile):
# (file, old text, new text, the record it must show in)
# defects planted in avx2_neon.inc (one copy, one compile), and the record each must show in
NEON = AVX2_NEON.name
NEON_DEFECTS = {
    "min by NEON's rule's operand order (b < a ? b : a)": (
        NEON, "return ppv_pick_pd(PPV_CMP4(a, b, <), a, b); }",
        "return ppv_pick_pd(PPV_CMP4(b, a, <), b, a); }", "_mm512_min_pd"),
    "fnmadd as fmadd": (
        NEON, "return ppv_join(vfmsq_f64(z.lo, x.lo, y.lo), vfmsq_f64(z.hi, x.hi, y.hi));",
        "return ppv_join(vfmaq_f64(z.lo, x.lo, y.lo), vfmaq_f64(z.hi, x.hi, y.hi));",
        "_mm512_fnmadd_pd"),
    "blendv_pd by the mask's sense inverted": (
        NEON, "return ppv_pick_pd((__m256i)mask >> 63, b, a);",
        "return ppv_pick_pd((__m256i)mask >> 63, a, b);", "_mm512_mask_blend_pd"),
    "_CMP_NLT_UQ as b <= a (differs only on NaNs)": (
        NEON, "case 0x5: r = ~PPV_CMP4(a, b, <); break;",
        "case 0x5: r = PPV_CMP4(b, a, <=); break;", "_mm512_cmp_pd_mask/_CMP_NLT_UQ"),
    "srli_epi64 shifts arithmetically": (
        NEON, ": (__m256i)((ppv_u64x4)a >> n);", ": (__m256i)(a >> n);", "_mm512_srli_epi64"),
    "unpackhi_pd's last lane from the wrong element": (
        NEON, "return (__m256d){a[1], b[1], a[3], b[3]};",
        "return (__m256d){a[1], b[1], a[3], b[2]};", "_mm512_unpackhi_pd"),
    "permute2f128's high selector from imm bits 5-6": (
        NEON, "h = 2 * ((imm >> 4) & 3);", "h = 2 * ((imm >> 5) & 3);",
        "_mm512_shuffle_f64x2/0x44"),
    "permutevar8x32 reads 2 index bits, not 3": (
        NEON, "const ppv_i32x8 i = (ppv_i32x8)idx & 7;",
        "const ppv_i32x8 i = (ppv_i32x8)idx & 3;", "_mm512_permutex2var_pd"),
    "movemask_pd's lanes 0 and 1 exchanged": (
        NEON, "return (int)(s[0] | (s[1] << 1) |", "return (int)(s[1] | (s[0] << 1) |",
        "__mmask8 operator(unsigned)"),
    "cmpgt_epi64 unsigned": (
        NEON, "_mm256_cmpgt_epi64(__m256i a, __m256i b) { return PPV_CMP4(a, b, >); }",
        "_mm256_cmpgt_epi64(__m256i a, __m256i b) { return PPV_CMP4(a ^ (1LL << 63), "
        "b ^ (1LL << 63), >); }", "_mm512_cmpgt_epi64_mask"),
    "fast_log_tables8's NEON look-up: logc lane 2 from lane 3's index": (
        "fast_math.inc", "FAST_LOG_LOGC[w[2]], FAST_LOG_LOGC[w[3]]);",
        "FAST_LOG_LOGC[w[3]], FAST_LOG_LOGC[w[3]]);", "fast_log_tables8"),
}
# (every record that reads a mask's bits goes through movemask_pd, so none of those is here)
NEON_UNTOUCHED = ["_mm512_add_pd", "_mm512_fmadd_pd", "_mm512_fmsub_pd", "_mm512_max_pd",
                  "_mm512_cvtps_pd", "_mm512_cvtpd_ps", "_mm512_and_si512", "_mm512_sub_epi64",
                  "_mm512_slli_epi64", "_mm512_unpacklo_pd"]


def _arm64_tools() -> tuple[str, str]:
    """The cross compiler and qemu-aarch64, or a skip."""
    cxx, qemu = shutil.which("aarch64-linux-gnu-g++"), shutil.which("qemu-aarch64")
    if not (cxx and qemu):
        pytest.skip("no aarch64-linux-gnu-g++ and qemu-aarch64 here "
                    "(apt install g++-aarch64-linux-gnu qemu-user)")
    return cxx, qemu


def _arm64_command(cxx: str, include: Path, out: Path, quick: bool = False) -> list[str]:
    """The kernel's flags for an ARM64 build (as tests/arm64_check.py: this machine's CPU
    options dropped, armv8-a), as a program (no -shared / -fPIC) that prints its report."""
    from tests.arm64_check import kernel_flags

    flags = [f for f in kernel_flags(_native.cpu_target_flags("aarch64", "armv8-a"))
             if f not in ("-shared", "-fPIC")]
    return [cxx, *flags, "-Wno-psabi", "-DPPV_SIMD8_MAIN",
            *(["-DPPV_SIMD8_QUICK"] if quick else []), f"-I{include}", str(HARNESS),
            "-o", str(out)]


def _run_arm64(qemu: str, program: Path) -> Harness:
    proc = subprocess.run([qemu, "-L", ARM64_SYSROOT, str(program)], capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, f"{program.name} under qemu: {proc.stderr[-2000:]}"
    first, _, report = proc.stdout.partition("\n")
    assert first.startswith("emulated "), first
    return Harness(first == "emulated 1", _records(report))


@pytest.fixture(scope="module")
def neon_builds(tmp_path_factory):
    """The harness on avx2_neon.inc and its planted copy, built for ARM64 and run under qemu."""
    cxx, qemu = _arm64_tools()
    root = tmp_path_factory.mktemp("simd8_neon")
    planted = root / "planted_sources"
    planted.mkdir()
    for source in OPS.glob("*.inc"):
        (planted / source.name).write_text(source.read_text())
    for file, old, new, _ in NEON_DEFECTS.values():
        text = (planted / file).read_text()
        assert text.count(old) == 1, f"{file} no longer holds {old!r} once"
        (planted / file).write_text(text.replace(old, new))
    jobs = {"neon": _arm64_command(cxx, OPS, root / "neon"),
            "planted": _arm64_command(cxx, planted, root / "planted", quick=True)}
    procs = {k: subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for k, cmd in jobs.items()}
    for k, proc in procs.items():
        _, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, f"compiling the {k} harness for ARM64 failed:\n{err[-3000:]}"
    return {k: _run_arm64(qemu, root / k) for k in jobs}


def test_the_neon_forms_give_the_avx2_emulations_bits(neon_builds, emulated):
    """On ARM64 (avx2_neon.inc under simd8.inc): every reference holds, and every result has
    the x86-64-v3 emulation's bits, record for record."""
    neon = neon_builds["neon"]
    assert neon.emulated, "the ARM64 build did not take simd8.inc's emulated forms"
    assert set(neon.records) == set(emulated.records)
    assert all(r.cases > 0 for r in neon.records.values())
    assert not any(r.bad for r in neon.records.values()), _describe(list(neon.records.values()))
    differ = [n for n, r in neon.records.items() if r.hash != emulated.records[n].hash]
    assert not differ, f"results whose bits differ from the AVX2 emulation's: {differ}"


@pytest.mark.parametrize("defect", list(NEON_DEFECTS))
def test_a_planted_neon_defect_is_caught(neon_builds, defect):
    record = neon_builds["planted"].records[NEON_DEFECTS[defect][3]]
    assert record.cases > 0
    assert record.bad > 0, f"{defect}: not caught by {record.name}"


def test_the_planted_neon_defects_stay_where_they_were_planted(neon_builds):
    planted = neon_builds["planted"]
    for name in NEON_UNTOUCHED:
        assert planted.records[name].bad == 0, _describe([planted.records[name]])
