#!/usr/bin/env bash
# Prints the path of a working Python 3.13 interpreter, for the Makefile's virtual environments.
# python3.13 on PATH counts only if it runs: a pyenv shim for a version that is not selected is on PATH but
# fails. Otherwise the newest 3.13.x that pyenv installed ($PYENV_ROOT, `pyenv root` or ~/.pyenv).
set -u
candidates=(python3.13)
for root in "${PYENV_ROOT:-}" "$(pyenv root 2>/dev/null)" "$HOME/.pyenv"; do
  [[ -n "$root" && -d "$root/versions" ]] || continue
  while IFS= read -r version_dir; do
    candidates+=("$version_dir/bin/python3.13")
  done < <(find "$root/versions" -mindepth 1 -maxdepth 1 -name '3.13.*' | sort -rV)
done
for candidate in "${candidates[@]}"; do
  if "$candidate" -c 'import sys; assert sys.version_info[:2] == (3, 13); print(sys.executable)' 2>/dev/null; then
    exit 0
  fi
done
echo "no working python3.13: install it (pyenv install 3.13) or set PYTHON313=/path/to/python3.13" >&2
exit 1
