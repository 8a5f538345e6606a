# tests/lit/lit.cfg.py — lit + FileCheck tests: diagnostics, dumps, passes
# and end-to-end runs. Each test file holds its own RUN lines.
import os

import lit.formats

config.name = "gradc"
config.test_format = lit.formats.ShTest(execute_external=True)
config.suffixes = [".grad", ".gir", ".test"]
config.excludes = ["Inputs", "lit.cfg.py", "lit.site.cfg.py.in"]
config.test_source_root = config.source_root
config.test_exec_root = config.exec_root

# gradc, FileCheck and not on PATH; the examples and helper scripts by name.
config.environment["PATH"] = os.pathsep.join(
    [config.gradc_bin_dir, config.llvm_bin_dir, config.environment.get("PATH", os.environ["PATH"])])
# `--param sanitize=1` (ctest's lit-sanitized) runs the end-to-end tests with
# their models linked against the runtime built with ASan and UBSan: any
# report aborts the model, which fails the test (even one expecting `not`).
if lit_config.params.get("sanitize"):
    config.test_exec_root = config.exec_root + "-sanitized"
    config.substitutions.append(("%gradc", " ".join([
        config.python, os.path.join(config.source_root, "Inputs", "gradc_sanitized.py"),
        os.path.join(config.gradc_bin_dir, "gradc"),
        os.path.join(config.build_dir, "runtime", "libgradrt-sanitized.a")])))
    config.environment["ASAN_OPTIONS"] = "abort_on_error=1:detect_leaks=1"
    config.environment["UBSAN_OPTIONS"] = "abort_on_error=1:halt_on_error=1:print_stacktrace=1"
    config.available_features.add("sanitized")
else:
    config.substitutions.append(("%gradc", os.path.join(config.gradc_bin_dir, "gradc")))
config.substitutions.append(("%examples", config.examples_dir))
config.substitutions.append(("%python", config.python))
config.substitutions.append(("%inputs", os.path.join(config.source_root, "Inputs")))
config.substitutions.append(("%bench", config.bench_dir))
config.substitutions.append(("%build", config.build_dir))
# The GEMM benchmark is built only where OpenBLAS (its reference) is found.
if os.path.exists(os.path.join(config.build_dir, "bench", "gemm_bench")):
    config.available_features.add("gemm-bench")
# train --precision bf16 needs AVX-512 BF16 (runtime/core/GemmBf16.cpp);
# short loops' tails are folded only with AVX-512 (codegen/EmitKernel.cpp).
try:
    with open("/proc/cpuinfo") as f:
        flags = f.read().split()
        if "avx512_bf16" in flags:
            config.available_features.add("bf16")
        if "avx512f" in flags:
            config.available_features.add("avx512")
except OSError:
    pass
# Tests that need two users (a file only another may replace) run as root,
# and run the model as nobody.
if os.getuid() == 0:
    config.available_features.add("root")
# Data-parallel tests start their models under Open MPI's mpirun (setup
# installs openmpi-bin): as root it must be told that is fine, and the
# suite's jobs may ask for more processes than there are cores.
import shutil
if shutil.which("mpirun"):
    config.available_features.add("mpi")
    config.environment["OMPI_ALLOW_RUN_AS_ROOT"] = "1"
    config.environment["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1"
    config.substitutions.append(("%mpirun", "mpirun --oversubscribe --bind-to none"))
