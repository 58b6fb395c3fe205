# Shared by fuzz/smoke, fuzz/campaign and fuzz/check-lock (sourced, not run): where things
# are, which targets exist, which dictionary each uses, and how to build them.
#
# Environment:
#   FUZZ_TARGET_DIR  where cargo-fuzz builds (default: fuzz/target)
#   FUZZ_TOOLCHAIN   rustup toolchain for the build (default: nightly)

FUZZ_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
FUZZ_TARGET_DIR="${FUZZ_TARGET_DIR:-$FUZZ_DIR/target}"
FUZZ_TOOLCHAIN="${FUZZ_TOOLCHAIN:-nightly}"

# All targets, in the order of fuzz/Cargo.toml.
fuzz_all_targets() {
  sed -n 's/^name = "\(.*\)"$/\1/p' "$FUZZ_DIR/Cargo.toml" | grep -vx 'mailgate-fuzz'
}

# The dictionary of a target's protocol family (by name prefix), or nothing.
fuzz_dict() {
  local dict="$FUZZ_DIR/${1%%_*}.dict"
  if [ -f "$dict" ]; then
    printf '%s\n' "$dict"
  fi
}

# The host triple cargo-fuzz builds for.
fuzz_triple() {
  rustc "+$FUZZ_TOOLCHAIN" -vV | sed -n 's/^host: //p'
}

# The built libFuzzer binary of a target.
fuzz_binary() {
  printf '%s/%s/release/%s\n' "$FUZZ_TARGET_DIR" "$(fuzz_triple)" "$1"
}

# Fails unless every name is a known target.
fuzz_check_targets() {
  local all name
  all="$(fuzz_all_targets)"
  for name in "$@"; do
    if ! grep -qx "$name" <<<"$all"; then
      echo "unknown fuzz target: $name (known: $(tr '\n' ' ' <<<"$all"))" >&2
      return 1
    fi
  done
}

# Installs cargo-fuzz if it is missing.
fuzz_ensure_cargo_fuzz() {
  if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "installing cargo-fuzz"
    cargo install cargo-fuzz --locked
  fi
}

# Builds all targets once: optimised, with debug assertions and overflow checks, and
# AddressSanitizer (cargo-fuzz's default), from the versions in fuzz/Cargo.lock.
# `cargo fuzz build` has no --locked, so `cargo fetch --locked` checks the lock file first: it
# fails where the lock file would have to change and downloads the locked versions, leaving
# the build nothing to resolve.
fuzz_build() {
  if ! cargo "+$FUZZ_TOOLCHAIN" fetch --locked --manifest-path "$FUZZ_DIR/Cargo.toml"; then
    echo "fuzz/Cargo.lock is out of date: run fuzz/check-lock --update" >&2
    return 1
  fi
  (cd "$FUZZ_DIR" && cargo "+$FUZZ_TOOLCHAIN" fuzz build -O -a --target-dir "$FUZZ_TARGET_DIR")
}

# Runs `$1` jobs at most at a time: call before starting each background job.
fuzz_wait_for_slot() {
  while [ "$(jobs -rp | wc -l)" -ge "$1" ]; do
    wait -n || true
  done
}

# Prints "execs exec/s cov ft corpus-units" from a libFuzzer log ("-" where unknown).
fuzz_log_stats() {
  awk '
    /^stat::number_of_executed_units:/ { execs = $2 }
    /^stat::average_exec_per_sec:/     { rate = $2 }
    /^#[0-9]+[ \t]/ {
      n = substr($1, 2)
      for (i = 2; i < NF; i++) {
        if ($i == "cov:") cov = $(i + 1)
        if ($i == "ft:") ft = $(i + 1)
        if ($i == "corp:") { split($(i + 1), c, "/"); corp = c[1] }
        if ($i == "exec/s:") lastrate = $(i + 1)
      }
    }
    END {
      if (execs == "") execs = (n == "" ? "-" : n)
      if (rate == "") rate = (lastrate == "" ? "-" : lastrate)
      printf "%s %s %s %s %s\n", execs, rate, (cov == "" ? "-" : cov), (ft == "" ? "-" : ft), (corp == "" ? "-" : corp)
    }' "$1"
}
