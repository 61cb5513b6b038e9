# cuda_emu: what g++ cannot parse in a .cu file, rewritten at build time (sed -z -E: the
# whole file at once, so a construct may span lines; line numbers are kept).
# k<<<grid, block, smem, stream>>>(args), also k<T><<<...>>>: a call of cuda_emu::launch
s/([[:alpha:]_][[:alnum:]_]*(<[^<>;]*>)?)<<<([^;]*)>>>\(\)/cuda_emu::launch("\1", \1, cuda_emu::make_config(\3))/g
s/([[:alpha:]_][[:alnum:]_]*(<[^<>;]*>)?)<<<([^;]*)>>>\(/cuda_emu::launch("\1", \1, cuda_emu::make_config(\3), /g
# extern __shared__ T name[]: a pointer to the launch's dynamic shared memory
s/extern[[:space:]]+__shared__[[:space:]]+(__align__\([^)]*\)[[:space:]]+)?([^;()[]*[^[:alnum:]_;()[])([[:alpha:]_][[:alnum:]_]*)[[:space:]]*\[[[:space:]]*\][[:space:]]*;/\2*\3 = (\2*)cuda_emu::dynamic_smem();/g
# __launch_bounds__(n) before a kernel's name: a check of the block size at its entry
s/__launch_bounds__\(([^()]*)\)([[:space:]]*[[:alpha:]_][[:alnum:]_]*[[:space:]]*\([^()]*\)[[:space:]]*\{)/\2 cuda_emu::launch_bounds(\1);/g
