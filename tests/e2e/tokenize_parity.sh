#!/usr/bin/env bash
# tokenize_parity: runs the tokenizer parity test against the npm references
# (tests/parity/tokenizer.sh: Llama 3, Qwen 3, cl100k, o200k on ~12 MB of real text).
exec bash "$(dirname "$0")/../parity/tokenizer.sh"
