#!/usr/bin/env bash
# Prints the path of a working Python X.Y interpreter (scripts/find_python.sh 3.13), for the Makefile's virtual
# environments. pythonX.Y on PATH counts only if it runs: a pyenv shim for a version that is not selected is on
# PATH but fails. Otherwise the newest X.Y.z that pyenv installed ($PYENV_ROOT, `pyenv root` or ~/.pyenv).
set -u
version=${1:?usage: find_python.sh 3.13}
candidates=("python$version")
for root in "${PYENV_ROOT:-}" "$(pyenv root 2>/dev/null)" "$HOME/.pyenv"; do
  [[ -n "$root" && -d "$root/versions" ]] || continue
  while IFS= read -r version_dir; do
    candidates+=("$version_dir/bin/python$version")
  done < <(find "$root/versions" -mindepth 1 -maxdepth 1 -name "$version.*" | sort -rV)
done
check="import sys; assert '%d.%d' % sys.version_info[:2] == '$version'; print(sys.executable)"
for candidate in "${candidates[@]}"; do
  if "$candidate" -c "$check" 2>/dev/null; then
    exit 0
  fi
done
echo "no working python$version: install it (pyenv install $version) or set PYTHON${version/./}=/path/to/python$version" >&2
exit 1
