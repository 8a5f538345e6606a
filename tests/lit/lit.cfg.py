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
config.substitutions.append(("%gradc", os.path.join(config.gradc_bin_dir, "gradc")))
config.substitutions.append(("%examples", config.examples_dir))
config.substitutions.append(("%python", config.python))
config.substitutions.append(("%inputs", os.path.join(config.source_root, "Inputs")))
config.substitutions.append(("%bench", config.bench_dir))
config.substitutions.append(("%build", config.build_dir))
# The GEMM benchmark is built only where OpenBLAS (its reference) is found.
if os.path.exists(os.path.join(config.build_dir, "bench", "gemm_bench")):
    config.available_features.add("gemm-bench")
