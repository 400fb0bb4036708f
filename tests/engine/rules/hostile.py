"""Hostile rule files shared by the engine and gRPC tests (no engine imports: also run on old code)."""

# 9 levels of 9 aliases of the level below: 324 bytes that PyYAML would expand to 9**9 values.
ALIAS_BOMB = 'a: &a ["x","x","x","x","x","x","x","x","x"]\n' + "".join(
    f"{c}: &{c} [{','.join([f'*{p}'] * 9)}]\n" for p, c in zip("abcdefgh", "bcdefghi", strict=True)
)
