#!/usr/bin/env bash
# Installs the Debian 12 packages ffnbench needs (only the missing ones; safe to run again).
set -euo pipefail

packages=(
  g++ cmake ninja-build pkg-config git            # toolchain
  libbenchmark-dev libgtest-dev                   # Google Benchmark (timing), GoogleTest
  libpapi-dev papi-tools likwid                   # counters: PAPI, likwid (library + likwid-bench)
  valgrind                                        # the cachesim counter backend
  libfmt-dev libboost-program-options-dev nlohmann-json3-dev
  libopenblas-openmp-dev libdnnl-dev              # dense baselines: OpenBLAS (OpenMP), oneDNN
  libblis-openmp-dev                              # dense baseline: BLIS (OpenMP), loaded beside OpenBLAS
  libtorch-dev                                    # gemm_ffn impl=libtorch (PyTorch's C++ frontend; CMake FFNBENCH_LIBTORCH)
  ocl-icd-opencl-dev                              # oneDNN's CMake config requires OpenCL (its GPU runtime)
  python3 python3-matplotlib python3-pandas       # figures
  python3-torch python3-numpy dataset-fashion-mnist  # training/: the layers trained on Fashion-MNIST
  slurmctld slurmd slurm-client munge            # tests: the SLURM job array on a one-node cluster
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#packages[@]} Debian packages present"
  exit 0
fi
echo "setup: installing ${missing[*]}"
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
